"""Shared fixtures: no network, a fresh NEWSRAG_HOME per test, the real bundled model once per session,
a hash embedder for tests about other things, and helpers that write article files into ``tmp_path``."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Before anything imports huggingface_hub or transformers: the bundled model is local, downloads are a bug.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

from newsrag.rag.embed import HashEmbedder, make_embedder  # noqa: E402
from newsrag.rag.settings import BUNDLED_MODEL, Settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = REPO / "data" / "articles" / "000_9d2fae29a5c0d528.txt"
CORPUS = FIXTURES / "corpus"
TRAPS = FIXTURES / "traps"
FORMATS = FIXTURES / "formats"
#: One ONNX export of the bundled model for every test and test subprocess (each test has its own
#: NEWSRAG_HOME; exporting into each would cost ~10 s a test). The export checks itself against its source.
MODELS_DIR = Path(tempfile.gettempdir()) / f"newsrag-test-models-{os.getuid()}"


# -- no accidental network ------------------------------------------------------------------------
class NetworkBlocked(OSError):
    """Raised by the test guard for a connection to anything but this machine."""


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost: it would need DNS, i.e. the network


def _guard_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any, *args: Any, **kwargs: Any) -> Any:
        if self.family != getattr(socket, "AF_UNIX", object()) and not _is_local(address):
            raise NetworkBlocked(f"test tried to connect to {address!r}; only loopback is allowed in tests")
        return original(self, address, *args, **kwargs)

    return connect


def _guard_create_connection(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(address):
            raise NetworkBlocked(f"test tried to connect to {address!r}; only loopback is allowed in tests")
        return original(address, *args, **kwargs)

    return create_connection


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    """Any outbound connection that is not to this machine fails (session-wide, so that session
    fixtures such as the model load are covered too)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _guard_connect(socket.socket.connect))
        mp.setattr(socket.socket, "connect_ex", _guard_connect(socket.socket.connect_ex))
        mp.setattr(socket, "create_connection", _guard_create_connection(socket.create_connection))
        yield


@pytest.fixture(autouse=True, scope="session")
def clean_newsrag_env() -> Iterator[None]:
    """A developer's NEWSRAG_* variables must not leak into tests (e.g. a NEWSRAG_CHROMA_URL). The one
    variable set is the shared ONNX export folder, :data:`MODELS_DIR`."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.upper().startswith("NEWSRAG_"):
                mp.delenv(name)
        mp.setenv("NEWSRAG_MODELS_DIR", str(MODELS_DIR))
        yield


# -- settings and embedders -----------------------------------------------------------------------
def make_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for a test store in ``home``; a ``.env`` in the working folder is not read."""
    return Settings(home=home, progress=False, _env_file=None, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The real bundled sentence-transformers model (default backend), loaded once per session."""
    emb = make_embedder(Settings(embedding_model=BUNDLED_MODEL, _env_file=None))  # type: ignore[call-arg]
    assert emb.name == BUNDLED_MODEL
    emb.encode(["load the model now, once"])
    return emb


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


# -- files ----------------------------------------------------------------------------------------
def article_text(title: str, body: str, date: str | None = "2025-02-12", url: str | None = None) -> str:
    """An article in the crawler format of the seed: `` date D URL``, blank, title, blank, body."""
    header = " ".join(x for x in (" date", date, url) if x) if date else None
    return (f"{header}\n\n" if header else "") + f"{title}\n\n{body}\n"


@pytest.fixture
def write_article(tmp_path: Path) -> Callable[..., Path]:
    """``write_article(name, title, body, date=..., url=..., folder=...)`` -> the path written."""

    def write(
        name: str,
        title: str,
        body: str,
        *,
        date: str | None = "2025-02-12",
        url: str | None = None,
        folder: Path | None = None,
    ) -> Path:
        folder = folder or tmp_path / "articles"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(article_text(title, body, date, url), encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_bytes(tmp_path: Path) -> Callable[..., Path]:
    """``write_bytes(name, data, folder=...)`` -> the path written (for bad inputs)."""

    def write(name: str, data: bytes, *, folder: Path | None = None) -> Path:
        folder = folder or tmp_path / "articles"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A private copy of the seed and the fixture corpus (tests edit and delete files in it)."""
    folder = tmp_path / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SEED, folder / SEED.name)
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy2(path, folder / path.name)
    return folder


def newsrag_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a ``newsrag`` subprocess: no inherited NEWSRAG_*, offline, the given home."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("NEWSRAG_")}
    env.update(
        {
            "NEWSRAG_HOME": str(home),
            "NEWSRAG_MODELS_DIR": str(MODELS_DIR),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def cli_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """``cli_env(home=None, **NEWSRAG_vars)``: env for a subprocess, hash embedder unless overridden."""

    def make(home: Path | None = None, **extra: str) -> dict[str, str]:
        extra.setdefault("NEWSRAG_EMBEDDING_MODEL", "hash-384")
        return newsrag_env(home or tmp_path / "home", **extra)

    return make


NEWSRAG = [sys.executable, "-m", "newsrag.ui.cli"]
