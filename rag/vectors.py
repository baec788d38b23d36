"""The stored sentence vectors, copied once per store version into a memory-mapped file beside the BM25
cache, so that answering a question never makes Chroma load the sentence collection.

Chroma loads a collection's whole vector index on its first read, whether a query or a fetch by id: at
10,000 articles that is 215,229 sentence vectors, about 0.7 s of a cold ``newsrag ask`` and hundreds of MB
held for the process's life (docs/benchmarks.md). The chain needs only the vectors of the retrieved
sections' sentences. Here they come from a ``.npy`` file opened with ``mmap_mode="r"``: a question reads
the few rows it needs.

Like the lexical index, the copy is keyed by the store's version (collection id, generation, stamp),
which every write by any process changes; it is made by an ingest that changed the store, else by the
first question after a write (one pass over
the collection, ``pages`` of 5,000, written straight into the file), and a version that moves while it
is made is not kept. A missing,
old or corrupt file is remade, never fatal; a Chroma server (``NEWSRAG_CHROMA_URL``) keeps no copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
from pathlib import Path

import numpy as np

from .records import sentence_id
from .store import Store

__all__ = ["SentenceVectors", "sentence_vectors"]

log = logging.getLogger(__name__)

_CACHE: dict[str, SentenceVectors] = {}
_LOCK = threading.Lock()
#: above this many sentences no copy is made (the store is asked, as without one): at 2.16 million the one
#: pass took 830 s and 10 GB, since Chroma pages by offset (docs/benchmarks.md)
MAX_SENTENCES = 500_000
_TOO_BIG: dict[str, tuple[str, int, str]] = {}


class SentenceVectors:
    """Rows of one version's sentence vectors: sentence ``i`` of an article is row ``table[start + i]``
    (-1: none), with ``spans[article] = (start, count)``."""

    def __init__(
        self, version: tuple[str, int, str], matrix: np.ndarray, spans: dict[str, tuple[int, int]], table: np.ndarray
    ) -> None:
        self.version = version
        self.matrix = matrix
        self.spans = spans
        self.table = table

    def get(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The vectors of these sentence ids that the store holds (copied out of the file)."""
        out = {}
        for sid in ids:
            article, _, index = sid.rpartition(":s")
            start, count = self.spans.get(article, (0, 0))
            i = int(index) if index.isdigit() else -1
            row = int(self.table[start + i]) if 0 <= i < count else -1
            if row >= 0:
                out[sid] = np.array(self.matrix[row], dtype=np.float32)
        return out


def _names(folder: Path, store: Store, version: tuple[str, int, str]) -> tuple[Path, Path]:
    stamp = hashlib.sha256(repr(version).encode()).hexdigest()[:12]
    return folder / f"sentences-{store.cache_key}.pkl", folder / f"sentences-{store.cache_key}-{stamp}.npy"


def sentence_vectors(store: Store, folder: Path | None, version: tuple[str, int, str] | None = None) -> SentenceVectors | None:
    """The copy for the store's current version (``version``, when the caller has just read it): from
    memory, else from disk, else made. None (the caller then asks the store) with no folder, for an empty
    store or one of more than :data:`MAX_SENTENCES` sentences, or when the store changed while the copy
    was made or the disk refused the file."""
    if folder is None:
        return None
    version = version or store.version()
    key = store.cache_key
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.version == version:
            return cached
        if _TOO_BIG.get(key) == version:
            return None
        index_path, matrix_path = _names(folder, store, version)
        vectors = _load(index_path, version)
        if vectors is None:
            if store.sentence_count() > MAX_SENTENCES:
                _TOO_BIG[key] = version
                return None
            vectors = _make(store, version, index_path, matrix_path)
        if vectors is not None:
            _CACHE[key] = vectors
        return vectors


def _load(index_path: Path, version: tuple[str, int, str]) -> SentenceVectors | None:
    if not index_path.exists():
        return None
    try:
        with index_path.open("rb") as f:
            saved = pickle.load(f)
        if saved.get("version") != version:
            return None
        matrix = np.load(index_path.parent / saved["matrix"], mmap_mode="r")
        return SentenceVectors(version, matrix, saved["spans"], saved["table"])
    except Exception as e:  # a corrupt or half-written copy is remade, never fatal
        log.warning("ignoring sentence vector cache %s: %s", index_path, e)
        return None


def _make(store: Store, version: tuple[str, int, str], index_path: Path, matrix_path: Path) -> SentenceVectors | None:
    """One pass over the sentence collection, each page written straight into the file (memory stays
    flat at any store size); rows are then found by sentence id."""
    total = store.sentence_count()
    ids: list[str] = []
    tmp = matrix_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp.npy")
    try:
        matrix = None
        for page_ids, block in store.sentence_vector_pages():
            if matrix is None:
                index_path.parent.mkdir(parents=True, exist_ok=True)
                matrix = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, block.shape[1]))
            if len(ids) + len(block) > total:
                break  # written meanwhile
            matrix[len(ids) : len(ids) + len(block)] = block
            ids += page_ids
        if matrix is None or len(ids) != total or store.version() != version:
            tmp.unlink(missing_ok=True)
            return None  # an empty store, or written meanwhile: this copy may mix two versions
        matrix.flush()
        del matrix
        tmp.replace(matrix_path)
        spans, table = _rows(ids)
        tmp = index_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with tmp.open("wb") as f:
            saved = {"version": version, "matrix": matrix_path.name, "spans": spans, "table": table}
            pickle.dump(saved, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(index_path)
        for old in index_path.parent.glob(index_path.stem + "-*.npy"):
            if old != matrix_path:
                old.unlink(missing_ok=True)  # a reader that mapped it keeps its pages until it closes
        return SentenceVectors(version, np.load(matrix_path, mmap_mode="r"), spans, table)
    except OSError as e:  # a read-only or full disk: the chain asks the store instead
        log.warning("cannot cache the sentence vectors in %s: %s", index_path.parent, e)
        tmp.unlink(missing_ok=True)
        return None


def _rows(ids: list[str]) -> tuple[dict[str, tuple[int, int]], np.ndarray]:
    """``spans`` and ``table`` of :class:`SentenceVectors` for the ids in row order."""
    by_article: dict[str, dict[int, int]] = {}
    for row, sid in enumerate(ids):
        article, _, index = sid.rpartition(":s")
        if index.isdigit() and sid == sentence_id(article, int(index)):
            by_article.setdefault(article, {})[int(index)] = row
    spans: dict[str, tuple[int, int]] = {}
    parts = []
    start = 0
    for article, where in by_article.items():
        part = np.full(max(where) + 1, -1, dtype=np.int64)
        part[list(where)] = list(where.values())
        spans[article] = (start, len(part))
        parts.append(part)
        start += len(part)
    return spans, (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))
