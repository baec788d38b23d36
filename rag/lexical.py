"""A BM25 index (bm25s) over section chunks, built once per store version and cached on disk.

Never rebuilt per query: the cache is keyed by the store's version (collection id, generation, stamp),
which every write by any process changes (ingest, delete, reindex, upload). bm25s builds the term
postings; the index keeps them as plain arrays and scores with numpy alone, so that loading a cached
index does not import bm25s and scipy (0.2 s of a cold ``newsrag ask``).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .store import Store
from .text import tokens

__all__ = ["LexicalIndex", "Postings", "lexical_index"]

log = logging.getLogger(__name__)

_CACHE: dict[str, LexicalIndex] = {}
_LOCK = threading.Lock()


#: the layout of the cached index; a cache file of another layout is rebuilt
FORMAT = 2


@dataclass
class Postings:
    """BM25 term postings exactly as bm25s computes them (its score matrix, a column per term), without
    bm25s: ``scores`` gives bm25s's ``get_scores`` to the last bit. bm25s's default (Lucene) variant,
    which gives a section without a term nothing for it."""

    vocab: dict[str, int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_docs: int
    dtype: str

    @classmethod
    def of(cls, corpus: list[list[str]]) -> Postings:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        bm25 = bm25s.BM25()
        bm25.index(corpus, show_progress=False)
        assert bm25.nonoccurrence_array is None  # the Lucene variant scores sections with the term only
        m = bm25.scores
        return cls(
            dict(bm25.vocab_dict),
            m["indptr"],
            m["indices"],
            m["data"],
            int(m["num_docs"]),
            str(bm25.dtype),
        )

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every section for ``terms``. bm25s adds each term's postings with ``np.add.at``
        (0.69 ms a question at 55k sections); a term's postings name each section once, so an indexed add
        (0.10 ms) gives the same float32 sums in the same order."""
        ids = [self.vocab[t] for t in terms if t in self.vocab]
        out = np.zeros(self.n_docs, dtype=np.dtype(self.dtype))
        for t in ids:
            out[self.indices[self.indptr[t] : self.indptr[t + 1]]] += self.data[self.indptr[t] : self.indptr[t + 1]]
        return np.asarray(out, dtype=np.float32)


@dataclass
class LexicalIndex:
    generation: int
    ids: list[str]
    article_ids: np.ndarray
    days: np.ndarray
    sources: np.ndarray
    df: dict[str, int]
    postings: Postings | None = field(repr=False, default=None)
    version: tuple[str, int, str] = ("", 0, "")
    format: int = FORMAT

    @classmethod
    def build(cls, store: Store, generation: int, version: tuple[str, int, str] = ("", 0, "")) -> LexicalIndex:
        ids, corpus, arts, days, sources = [], [], [], [], []
        df: dict[str, int] = {}
        for cid, doc, meta in store.iter_sections():
            toks = tokens(doc)
            ids.append(cid)
            corpus.append(toks)
            arts.append(meta["article_id"])
            days.append(int(meta.get("day", -1)))
            sources.append(meta.get("source", ""))
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        return cls(
            generation=generation,
            ids=ids,
            article_ids=np.array(arts, dtype=object),
            days=np.array(days, dtype=np.int64),
            sources=np.array(sources, dtype=object),
            df=df,
            postings=Postings.of(corpus) if ids else None,
            version=version,
        )

    @cached_property
    def source_set(self) -> frozenset[str]:
        """The distinct outlets (domains) of the indexed sections, computed once per index generation."""
        return frozenset(str(s) for s in set(self.sources.tolist()) if s)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        n = max(len(self.ids), 1)
        return math.log(1 + (n - self.df.get(term, 0) + 0.5) / (self.df.get(term, 0) + 0.5))

    def known(self, term: str) -> bool:
        return term in self.df

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) with score > 0, among the rows allowed by ``mask``."""
        q = [t for t in tokens(query) if t in self.df]
        if not q or self.postings is None:
            return []
        scores = self.postings.scores(q)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def mask(
        self, since: int | None, until: int | None, sources: list[str] | None, article_ids: list[str] | None
    ) -> np.ndarray | None:
        if since is None and until is None and not sources and not article_ids:
            return None
        m = np.ones(len(self.ids), dtype=bool)
        if since is not None:
            m &= self.days >= since
        if until is not None:
            m &= (self.days <= until) & (self.days >= 0)
        if sources:
            m &= np.isin(self.sources, sources)
        if article_ids:
            m &= np.isin(self.article_ids, article_ids)
        return m


def _disk_path(folder: Path, store: Store) -> Path:
    """Named by the layout too: an earlier newsrag never reads this file (it would find no bm25s object
    in it and search nothing), and this one never reads an earlier file."""
    return folder / f"bm25v{FORMAT}-{store.cache_key}.pkl"


def lexical_index(store: Store, folder: Path | None = None, version: tuple[str, int, str] | None = None) -> LexicalIndex:
    """The index for the store's current version (``version``, when the caller has just read it): from
    memory, else from disk, else built."""
    version = version or store.version()
    key = store.cache_key
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and getattr(cached, "version", None) == version:
            return cached
        path = _disk_path(folder, store) if folder else None
        index = None
        if path is not None and path.exists():
            try:
                with path.open("rb") as f:
                    loaded = pickle.load(f)
                if (
                    isinstance(loaded, LexicalIndex)
                    and vars(loaded).get("format") == FORMAT  # not the class default: older files lack it
                    and getattr(loaded, "version", None) == version
                ):
                    index = loaded
            except Exception as e:  # a corrupt or old cache file is rebuilt, never fatal
                log.warning("ignoring lexical index cache %s: %s", path, e)
        if index is None:
            index = LexicalIndex.build(store, version[1], version)
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # one per writer
                    with tmp.open("wb") as f:
                        pickle.dump(index, f, protocol=pickle.HIGHEST_PROTOCOL)
                    tmp.replace(path)
                    path.with_name(f"bm25-{store.cache_key}.pkl").unlink(missing_ok=True)  # the layout before FORMAT 2
                except OSError as e:  # a read-only or full disk costs a rebuild next time, not the answer
                    log.warning("cannot cache the lexical index in %s: %s", path, e)
        _CACHE[key] = index
        return index
