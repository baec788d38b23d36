"""Run ``newsrag serve`` in a child process on a free 127.0.0.1 port, for tests and benchmarks.

The child gets its own ``NEWSRAG_HOME`` (a first start ingests the bundled articles), writes its output
to ``<home>/serve.log``, and is stopped when the ``with`` block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerProcess", "free_port", "running_server"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy


def _ready(url: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/gradio_api/info", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_server(
    home: Path, *, port: int | None = None, env: Mapping[str, str] | None = None, timeout: float = 240.0
) -> Iterator[ServerProcess]:
    """Start ``python -m newsrag.ui.cli serve`` for ``home`` and wait until its API answers."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://{HOST}:{port}"
    child_env = {k: v for k, v in os.environ.items() if not k.upper().startswith("NEWSRAG_")}
    child_env.update({"NEWSRAG_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                      "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False",
                      "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1", "NO_PROXY": HOST})
    child_env.update(env or {})
    log_path = home / "serve.log"
    cmd = [sys.executable, "-m", "newsrag.ui.cli", "serve", "--host", HOST, "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=child_env,
                                cwd=Path(__file__).resolve().parent.parent)
    server = ServerProcess(url, proc, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if proc.poll() is not None:
                raise RuntimeError(f"newsrag serve exited with {proc.returncode}:\n{server.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"newsrag serve did not answer at {url} within {timeout:.0f} s:\n"
                                   f"{server.log()[-4000:]}")
            time.sleep(0.25)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
