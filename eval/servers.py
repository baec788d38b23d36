"""Real server processes for tests and benchmarks, started and stopped in one way: ``newsrag serve``,
``chroma run`` and llama-cpp's OpenAI-compatible server, each on a free 127.0.0.1 port, with its output in
a log file, waited for until it answers, and stopped (terminate, then kill) when the ``with`` block ends.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ServerProcess", "free_port", "background", "running_server", "chroma_server", "llama_server", "tree_total", "HOST"]

HOST = "127.0.0.1"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def tree_total(root: Any, measure: Callable[[Any], float]) -> float:
    """``measure`` summed over a psutil process and its children (a child that ended meanwhile is skipped)."""
    import psutil

    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += measure(proc)
        except psutil.Error:
            continue
    return total


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def http_ok(url: str, check: Callable[[bytes], bool] | None = None) -> bool:
    """Whether ``url`` answers 200 (and its body passes ``check``)."""
    try:
        with _DIRECT.open(url, timeout=2) as resp:
            return bool(resp.status == 200) and (check is None or check(resp.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextmanager
def background(
    cmd: Sequence[str],
    url: str,
    ready: Callable[[], bool],
    log_path: Path,
    *,
    name: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[ServerProcess]:
    """Run ``cmd`` until ``ready()`` is true (or fail with its log), yield it, then stop it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, env=dict(env or os.environ), cwd=cwd)
    server = ServerProcess(url, proc, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{server.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer at {url} within {timeout:.0f} s:\n{server.log()[-4000:]}")
            time.sleep(0.25)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("NEWSRAG_")}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "ANONYMIZED_TELEMETRY": "False",
            "PYTHONIOENCODING": "utf-8",
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": HOST,
        }
    )
    env.update(extra)
    return env


@contextmanager
def running_server(
    home: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 240.0,
    newsrag: Sequence[str] | None = None,
) -> Iterator[ServerProcess]:
    """``newsrag serve`` for ``home`` (a first start ingests the bundled articles); log in ``home/serve.log``.
    ``newsrag`` is the command to run (default: this interpreter's ``python -m newsrag.ui.cli``)."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://{HOST}:{port}"
    cmd = [*(newsrag or [sys.executable, "-m", "newsrag.ui.cli"]), "serve", "--host", HOST, "--port", str(port)]
    child_env = _clean_env(NEWSRAG_HOME=str(home), **dict(env or {}))
    with background(
        cmd,
        url,
        lambda: http_ok(f"{url}/gradio_api/info"),
        home / "serve.log",
        name="newsrag serve",
        env=child_env,
        cwd=home,
        timeout=timeout,
    ) as server:
        yield server


def chroma_executable() -> str:
    """The ``chroma`` console script of the chromadb wheel installed beside this Python."""
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        raise FileNotFoundError("the `chroma` console script (from the chromadb wheel) is not installed")
    return found


@contextmanager
def chroma_server(root: Path, *, timeout: float = 60.0) -> Iterator[ServerProcess]:
    """``chroma run`` with its data in ``root/data``; the yielded ``url`` is what NEWSRAG_CHROMA_URL takes."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    cmd = [chroma_executable(), "run", "--path", str(root / "data"), "--host", HOST, "--port", str(port)]

    def ready() -> bool:
        return http_ok(f"{url}/api/v2/heartbeat", lambda body: any("heartbeat" in k for k in json.loads(body)))

    with background(
        cmd, url, ready, root / "server.log", name="chroma run", env=_clean_env(), cwd=root, timeout=timeout
    ) as server:
        yield server


@contextmanager
def llama_server(model: Path, log_dir: Path, *, alias: str = "local", timeout: float = 120.0) -> Iterator[ServerProcess]:
    """llama-cpp-python's OpenAI-compatible server on a GGUF file; ``url`` ends in ``/v1``."""
    port = free_port()
    url = f"http://{HOST}:{port}/v1"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        HOST,
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--model_alias",
        alias,
    ]
    with background(
        cmd,
        url,
        lambda: http_ok(f"{url}/models"),
        log_dir / "llama-server.log",
        name="llama-cpp server",
        env=_clean_env(),
        timeout=timeout,
    ) as server:
        yield server
