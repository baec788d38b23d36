"""The Chroma store: three collections per prefix, all written by ingest and read by the chain.

* ``<prefix>_articles``: one record per article; the document is the full body text and the metadata
  holds the spans. It is written *last* for an article, so it doubles as the commit marker: an article
  whose marker is missing or stale is re-written on the next ingest, and orphans are swept.
* ``<prefix>_sections``: one record per chunk (a headline section or a part of a long one).
* ``<prefix>_sentences``: one record per sentence, with its own vector, for quote selection.

The collections record the embedding model; opening them with another model raises
:class:`~rag.errors.ModelMismatchError` instead of mixing vectors.

Many processes, one store (docs/reliability.md):

* Writers are serialized per embedded store by a cross-process lock (:meth:`Store.writing`); a writer
  reopens its Chroma client once it holds the lock, so it never writes over vectors it has not seen.
* Every write bumps the store's *generation* (and a random stamp, so two servers-mode writers that race
  on the counter still leave a change readers notice). :meth:`Store.version` is what caches key on.
* Embedded Chroma keeps each process's vector index in memory: a reader whose store changed under it
  (another process wrote) reopens its client when the version moves, and any read that meets a record
  it cannot resolve reopens and reads once more instead of failing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from .errors import ModelMismatchError, NotFoundError, StoreError
from .models import Article, ArticleSummary, Chunk
from .records import (
    SectionHit,
    SentenceRecord,
    article_from,
    article_meta,
    base_meta,
    chunk_lookup,
    day_number,
    hit_from,
    origin,
    sentence_id,
    summary_from,
)
from .settings import Settings, get_settings

# SectionHit, SentenceRecord and day_number are re-exported from .records
__all__ = [
    "Store",
    "make_store",
    "SectionHit",
    "SentenceRecord",
    "day_number",
    "ArticleWrite",
    "Marker",
    "pages",
    "WriteLock",
    "QUESTION_READS",
]

log = logging.getLogger(__name__)

SCHEMA = 1
#: the collections every question reads (its sentences' vectors come from the copy in ``rag.vectors``;
#: the sentences collection is searched only with the learned scorer)
QUESTION_READS = ("sections", "articles")
EF_SEARCH: int = Settings.model_fields["hnsw_ef_search"].default
_CLIENTS: dict[str, _Handle] = {}
_CLIENT_LOCK = threading.Lock()
T = TypeVar("T")


@dataclass(frozen=True)
class Marker:
    """What the store remembers of an article for the next ingest: its content hash and origin."""

    hash: str
    path: str | None
    line: int | None
    url: str | None


@dataclass
class ArticleWrite:
    """One article ready to store: its chunks and the vectors of chunks and sentences."""

    article: Article
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


class _Handle:
    """The Chroma client of one store location in this process, shared by its :class:`Store` objects.

    Embedded Chroma caches the vector index in memory per process, so a client opened before another
    process wrote can miss new records or return deleted ones. :meth:`reopen` swaps in a fresh client
    (Chroma's per-path system cache is dropped for that path only); ``opened`` counts the swaps so that
    threads that met the same stale client reopen it once, not once each.
    """

    #: Seconds a replaced client stays usable for a read that was running on it; then it is stopped
    #: (each open client holds its own copy of the vector index: ~3 MB for a small store).
    RETIRE_AFTER = 10.0

    def __init__(self, opener: Callable[[], Any] | None, client: Any = None) -> None:
        self._opener = opener
        self.client: Any = client if client is not None else (opener() if opener else None)
        self.opened = 0
        self.lock = threading.RLock()
        self._retired: list[tuple[float, Any]] = []

    @property
    def embedded(self) -> bool:
        return self._opener is not None

    def reopen(self, seen: int) -> None:
        if self._opener is None:
            return  # a Chroma server (or a client given by the caller) is always current
        with self.lock:
            if self.opened != seen:
                return  # another thread reopened it already
            system = getattr(self.client, "_system", None)
            _forget_system(getattr(getattr(system, "settings", None), "persist_directory", None))
            self.client = self._opener()
            self.opened += 1
            now = time.monotonic()
            keep = []
            for when, old in self._retired:
                if now - when > self.RETIRE_AFTER:
                    _stop(old)
                else:
                    keep.append((when, old))
            self._retired = [*keep, (now, system)] if system is not None else keep


def _forget_system(persist_directory: str | None) -> None:
    """Drop Chroma's cached system for one path, so that the next PersistentClient reads it afresh.
    The old system is not stopped: a query running on it in another thread finishes undisturbed."""
    if not persist_directory:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    with SharedSystemClient._refcount_lock:
        SharedSystemClient._identifier_to_system.pop(persist_directory, None)
        SharedSystemClient._identifier_to_refcount.pop(persist_directory, None)


def _stop(system: Any) -> None:
    try:
        system.stop()
    except Exception as e:  # already stopped, or torn down by Chroma itself: nothing to free
        log.debug("stopping a replaced Chroma client: %s", e)


def _client_for(settings: Settings) -> Any:
    """The current Chroma client for the settings' store (kept for callers that want the raw client)."""
    return _handle_for(settings).client


def _handle_for(settings: Settings) -> _Handle:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    key = settings.chroma_url or str(settings.chroma_path.resolve())
    with _CLIENT_LOCK:
        handle = _CLIENTS.get(key)
        if handle is not None:
            return handle
        try:
            if settings.chroma_url:
                parts = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=parts.hostname or "127.0.0.1",
                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
                handle = _Handle(None, client)
            else:
                settings.chroma_path.mkdir(parents=True, exist_ok=True)
                handle = _Handle(_opener(settings.chroma_path, chroma_settings, settings.write_lock_timeout))
        except Exception as e:  # connection refused, bad folder, ...
            where = settings.chroma_url or settings.chroma_path
            raise StoreError(
                f"cannot open the Chroma store at {where}: {e}. Check NEWSRAG_CHROMA_URL (is `chroma run` up?) or NEWSRAG_HOME."
            ) from e
        _CLIENTS[key] = handle
        return handle


def _opener(folder: Path, chroma_settings: Any, timeout: float) -> Callable[[], Any]:
    """Open an embedded client with ``chroma/open.lock`` held: the first client of a new folder creates
    Chroma's tables, and two processes creating them at once fail ("table collections already exists";
    reproduced with 6 processes opening one new folder). Opening an existing store takes milliseconds."""
    import chromadb
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder / "open.lock"), thread_local=False)

    def open_client() -> Any:
        try:
            with lock.acquire(timeout=timeout):
                return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
        except Timeout:
            raise StoreError(
                f"another process kept {folder / 'open.lock'} for {timeout:.0f} s while opening the store; "
                "try again, or raise NEWSRAG_WRITE_LOCK_TIMEOUT."
            ) from None

    return open_client


class WriteLock:
    """A cross-process lock that serializes the writers of one embedded store (``chroma/write.lock``).

    A second writer waits, saying once who holds the lock and since when, and gives up with a
    :class:`StoreError` after ``timeout`` seconds. The lock is an OS file lock: a writer killed with
    SIGKILL releases it with its process, and the next writer completes its half-written batch.
    Re-entrant within a process (an upload's ingest inside the server, a delete inside a session).
    """

    def __init__(self, folder: Path, timeout: float, on_wait: Callable[[str], None] | None = None) -> None:
        from filelock import FileLock

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.timeout = timeout
        self.on_wait = on_wait or (lambda msg: log.warning("%s", msg))
        self._file = FileLock(str(folder / "write.lock"), thread_local=False)
        self._owner = folder / "write.owner"
        self._threads = threading.RLock()
        self._depth = 0

    def holder(self) -> str:
        """Who holds the lock: ``pid 4242 (newsrag ingest), started 12 s ago``, as far as it is known."""
        try:
            info = json.loads(self._owner.read_text(encoding="utf-8"))
            ago = max(0, int(time.time() - float(info["started"])))
            return f"pid {info['pid']} ({info.get('command', '?')}), started {ago} s ago"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    @contextmanager
    def hold(self, what: str) -> Iterator[bool]:
        """Hold the lock; yields True when this call took it (False when it was already held here)."""
        from filelock import Timeout

        if not self._threads.acquire(timeout=self.timeout):
            raise StoreError(self._refusal())
        try:
            if self._depth:
                self._depth += 1
                try:
                    yield False
                finally:
                    self._depth -= 1
                return
            deadline = time.monotonic() + self.timeout
            try:
                self._file.acquire(timeout=0)
            except Timeout:
                self.on_wait(f"waiting for another writer of {self.folder.parent}: {self.holder()}")
                try:
                    self._file.acquire(timeout=max(0.0, deadline - time.monotonic()))
                except Timeout:
                    raise StoreError(self._refusal()) from None
            self._depth = 1
            try:
                info = {"pid": os.getpid(), "started": time.time(), "command": what}
                self._owner.write_text(json.dumps(info), encoding="utf-8")
                yield True
            finally:
                self._depth = 0
                self._file.release()
        finally:
            self._threads.release()

    def _refusal(self) -> str:
        return (
            f"the store at {self.folder.parent} is being written by {self.holder()}; gave up after waiting "
            f"{self.timeout:.0f} s. Try again when it is done, or raise NEWSRAG_WRITE_LOCK_TIMEOUT."
        )


_LOCKS: dict[str, WriteLock] = {}


def _write_lock(settings: Settings) -> WriteLock | None:
    if settings.chroma_url:
        return None  # server mode: writes are idempotent per article, markers last (docs/reliability.md)
    key = str(settings.chroma_path.resolve())
    with _CLIENT_LOCK:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = WriteLock(settings.chroma_path, settings.write_lock_timeout)
        lock.timeout = settings.write_lock_timeout
        return lock


_STALE = ("Error finding id", "Error getting embedding", "does not exist", "Nothing found on disk")


def _stale(error: Exception) -> bool:
    """Whether a Chroma error is the kind a stale in-memory view of a changed store raises."""
    text = f"{type(error).__name__}: {error}"
    return any(s in text for s in _STALE) or type(error).__name__ in ("InternalError", "NotFoundError")


class Store:
    """Reads and writes newsrag's records in one Chroma database."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        model: str,
        where: str,
        *,
        write_lock: WriteLock | None = None,
        ef_search: int = EF_SEARCH,
    ) -> None:
        self._handle = client if isinstance(client, _Handle) else _Handle(None, client)
        self.prefix = prefix
        self.model = model
        self.where = where
        self.write_lock = write_lock
        self.ef_search = ef_search
        self._cols: dict[str, Any] = {}
        self._cols_opened = self._handle.opened
        self._lock = threading.RLock()
        self._seen: tuple[str, int, str] | None = None
        #: the article list of one store version: reading every article's metadata takes 2.2 s at 10,000
        self._listed: tuple[tuple[str, int, str], list[ArticleSummary]] | None = None

    @property
    def client(self) -> Any:
        return self._handle.client

    @property
    def cache_key(self) -> str:
        """Names this store (where it lives, its collections' prefix) for the caches kept beside it, in
        memory and in file names."""
        return hashlib.sha256(f"{self.where}|{self.prefix}".encode()).hexdigest()[:16]

    # -- staying current with other processes ------------------------------------------------------
    def refresh(self) -> None:
        """Reopen the Chroma client (embedded store), so that records other processes wrote are seen."""
        self._handle.reopen(self._handle.opened)

    def _read(self, fn: Callable[[], T], attempts: int = 4) -> T:
        """Run a read; if it meets a record or collection that a stale view cannot resolve (another process
        wrote, deleted or reindexed meanwhile), reopen the client and read again, a few times at most."""
        for attempt in range(attempts):
            seen = self._handle.opened
            try:
                return fn()
            except Exception as e:
                if not _stale(e):
                    raise
                if attempt == attempts - 1:
                    raise StoreError(
                        f"cannot read the store at {self.where}: {e}. If another process is writing it, ask again "
                        "when it is done; if this persists, run `newsrag reindex`."
                    ) from e
                log.info("store %s changed under this process (%s); reading it again", self.where, e)
                if attempt:
                    time.sleep(0.2 * attempt)  # reindex is swapping collections: give it a moment
                self._handle.reopen(seen)
        raise AssertionError("unreachable")

    # -- collections ---------------------------------------------------------------------------
    def _name(self, kind: str) -> str:
        return f"{self.prefix}_{kind}"

    def _collection(self, kind: str) -> Any:
        if self._cols_opened != self._handle.opened:
            self._cols, self._cols_opened = {}, self._handle.opened
        col = self._cols.get(kind)
        if col is None:
            with self._lock:
                col = self._open(kind)
                stored = (col.metadata or {}).get("model")
                if stored and stored != self.model:
                    raise ModelMismatchError(_mismatch(self.where, self._name(kind), stored, self.model))
                self._cols[kind] = col
        return col

    def _open(self, kind: str) -> Any:
        """The collection, created if the store has none yet. While ``reindex`` swaps its new collections
        in, a missing one is not created (that would block the swap): the read is retried instead."""
        try:
            return self.client.get_collection(self._name(kind), embedding_function=None)
        except Exception as e:
            if "does not exist" not in str(e) and type(e).__name__ != "NotFoundError":
                raise
            names = {getattr(c, "name", str(c)) for c in self.client.list_collections()}
            if f"{self.prefix}.reindex_{kind}" in names:
                raise StoreError(f"collection {self._name(kind)!r} does not exist while reindex swaps it") from e
        return self.client.get_or_create_collection(
            self._name(kind),
            configuration={"hnsw": {"space": "cosine", "ef_search": self.ef_search}},
            metadata={"model": self.model, "schema": SCHEMA, "generation": 0},
            embedding_function=None,
        )

    @property
    def articles(self) -> Any:
        return self._collection("articles")

    @property
    def sections(self) -> Any:
        return self._collection("sections")

    @property
    def sentences(self) -> Any:
        return self._collection("sentences")

    def check(self) -> None:
        """Open all collections now (raises ModelMismatchError early)."""
        for kind in ("articles", "sections", "sentences"):
            self._read(partial(self._collection, kind))

    def load(self, kinds: Sequence[str]) -> None:
        """Have Chroma load these collections now. An embedded Chroma loads a collection's whole index on
        the first read of it in a process, however small the read: 0.5 s for the 55k sections of 10,000
        articles, 0.3 s for the articles (docs/benchmarks.md, Cold start). A read of one record does it;
        unlike ``count()`` it lets other threads run meanwhile (Chroma releases the GIL for it)."""
        for kind in kinds:
            self._read(partial(self._load_one, kind))

    def _load_one(self, kind: str) -> None:
        self._collection(kind).get(limit=1, include=[])

    # -- generation: bumped by every write, read by caches (lexical index) and by readers --------
    def generation(self) -> int:
        return int(self._current()[1])

    def version(self) -> tuple[str, int, str]:
        """(articles collection id, generation, stamp): changes whenever any process wrote the store,
        including ``reindex`` (a new collection). A reader that sees it move reopens its client."""
        return self._current()

    def _current(self) -> tuple[str, int, str]:
        col = self._read(lambda: self.client.get_collection(self._collection("articles").name))
        meta = col.metadata or {}
        now = (str(col.id), int(meta.get("generation", 0)), str(meta.get("stamp", "")))
        if self._seen is not None and now != self._seen:
            self.refresh()
        self._seen = now
        return now

    def _meta(self) -> dict[str, Any]:
        name = self._collection("articles").name  # created on first use
        return dict(self.client.get_collection(name).metadata or {})

    def is_dirty(self) -> bool:
        """True while an ingest is writing, or after one was killed half way."""
        self.check()
        return bool(self._meta().get("dirty"))

    def set_dirty(self, dirty: bool) -> None:
        """Mark the store as being written (or done). Each committed write bumps the generation itself."""
        with self._lock:
            meta = self._meta()
            meta["dirty"] = int(dirty)
            meta.setdefault("model", self.model)
            self.articles.modify(metadata=meta)

    def bump(self) -> None:
        """Tell every reader the store changed: a new generation and a new random stamp."""
        with self._lock:
            meta = self._meta()
            meta["generation"] = int(meta.get("generation", 0)) + 1
            meta["stamp"] = uuid.uuid4().hex[:12]
            meta.setdefault("model", self.model)
            col = self.articles
            col.modify(metadata=meta)
            self._seen = (str(col.id), int(meta["generation"]), str(meta["stamp"]))  # our own write: current

    @contextmanager
    def exclusive(self, what: str = "") -> Iterator[Store]:
        """Hold the store's write lock (embedded stores; a no-op for a Chroma server), with this process's
        view fresh, so that a writer never writes over vectors another process wrote meanwhile."""
        if self.write_lock is None:
            yield self
            return
        what = what or " ".join(os.path.basename(a) for a in sys.argv[:3]) or "newsrag"
        with self.write_lock.hold(what) as first:
            if first:
                self.refresh()
            yield self

    @contextmanager
    def writing(self, what: str = "") -> Iterator[Store]:
        """One write session: :meth:`exclusive`, and the store marked dirty until the session ends. A
        session that dies keeps the mark, and the next ingest sweeps what it left."""
        with self.exclusive(what):
            self.check()
            self.tune_search()
            self.set_dirty(True)
            yield self
            self.set_dirty(False)

    def tune_search(self) -> None:
        """Give stores made before ``hnsw_ef_search`` existed (or with another value) the configured one. It
        is a writer's job: readers never write the store."""
        for kind in ("sections", "sentences"):
            col = self._collection(kind)
            hnsw = (getattr(col, "configuration", None) or {}).get("hnsw") or {}
            if hnsw and hnsw.get("ef_search") != self.ef_search:
                col.modify(configuration={"hnsw": {"ef_search": self.ef_search}})

    # -- writes ----------------------------------------------------------------------------------
    def _batch(self) -> int:
        try:
            return max(1, min(int(self.client.get_max_batch_size()), 4000))
        except Exception:  # older servers do not report it
            return 1000

    def _upsert(self, col: Any, ids: list[str], vectors: np.ndarray, docs: list[str], metas: list[dict[str, Any]]) -> None:
        step = self._batch()
        for i in range(0, len(ids), step):
            col.upsert(
                ids=ids[i : i + step],
                embeddings=vectors[i : i + step],
                documents=docs[i : i + step],
                metadatas=metas[i : i + step],
            )

    def write(self, batch: Sequence[ArticleWrite]) -> None:
        """Replace each article's records: old sections and sentences go, new ones come, marker last."""
        if not batch:
            return
        ids = [w.article.id for w in batch]
        self._delete_children(ids)
        sec_ids, sec_vecs, sec_docs, sec_metas = [], [], [], []
        sen_ids, sen_vecs, sen_docs, sen_metas = [], [], [], []
        for w in batch:
            a = w.article
            base = base_meta(a)
            for chunk, vec in zip(w.chunks, w.chunk_vectors, strict=True):
                section = a.sections[chunk.section]
                sec_ids.append(chunk.id)
                sec_vecs.append(vec)
                sec_docs.append(chunk.embed_text)
                sec_metas.append(
                    base
                    | {
                        "section": chunk.section,
                        "headline": section.headline or "",
                        "part": chunk.part,
                        "start": chunk.start,
                        "end": chunk.end,
                    }
                )
            chunk_of = chunk_lookup(w.chunks)
            for sent, vec in zip(a.sentences, w.sentence_vectors, strict=True):
                sen_ids.append(sentence_id(a.id, sent.index))
                sen_vecs.append(vec)
                sen_docs.append(a.text[sent.start : sent.end])
                sen_metas.append(
                    {
                        "article_id": a.id,
                        "chunk_id": chunk_of(sent),
                        "section": sent.section,
                        "sentence": sent.index,
                        "start": sent.start,
                        "end": sent.end,
                        "day": base["day"],
                        "source": base["source"],
                    }
                )
        dim = batch[0].chunk_vectors.shape[1]
        if sec_ids:
            self._upsert(self.sections, sec_ids, np.vstack(sec_vecs), sec_docs, sec_metas)
        if sen_ids:
            self._upsert(self.sentences, sen_ids, np.vstack(sen_vecs), sen_docs, sen_metas)
        art_vecs = []
        for w in batch:
            v = w.chunk_vectors.mean(axis=0) if len(w.chunk_vectors) else np.zeros(dim, dtype=np.float32)
            n = float(np.linalg.norm(v))
            art_vecs.append(v / n if n else v)
        self._upsert(
            self.articles,
            ids,
            np.vstack(art_vecs),
            [w.article.text for w in batch],
            [article_meta(w.article, self.model) for w in batch],
        )
        self.bump()

    def _delete_children(self, ids: list[str]) -> None:
        for col in (self.sentences, self.sections):
            for i in range(0, len(ids), 200):
                col.delete(where={"article_id": {"$in": ids[i : i + 200]}})

    def delete(self, ids: list[str]) -> None:
        """Remove articles and everything that belongs to them (marker first: no half-visible article)."""
        ids = list(dict.fromkeys(ids))  # the same id twice is one article, not a DuplicateIDError
        if ids:
            self.articles.delete(ids=ids)
            self._delete_children(ids)
            self.bump()

    def sweep_orphans(self) -> int:
        """Delete section and sentence records whose article has no marker (left by a killed ingest)."""
        known = set(self.articles.get(include=[])["ids"])
        orphans: set[str] = set()
        for col in (self.sections, self.sentences):
            for got in pages(col, ["metadatas"]):
                for meta in got["metadatas"] or []:
                    if meta["article_id"] not in known:
                        orphans.add(str(meta["article_id"]))
        if orphans:
            log.info("removing records of %d half-written articles", len(orphans))
            self._delete_children(sorted(orphans))
        return len(orphans)

    # -- reads -----------------------------------------------------------------------------------
    def markers(self) -> dict[str, Marker]:
        """article id -> its commit marker (hash, origin, url) for every stored article."""
        out: dict[str, Marker] = {}
        for aid, meta in self._iter_articles():
            path, line = origin(meta)
            out[aid] = Marker(hash=str(meta.get("hash") or ""), path=path, line=line, url=meta.get("url") or None)
        return out

    def count(self) -> int:
        return int(self._read(lambda: self.articles.count()))

    def list_articles(self) -> list[ArticleSummary]:
        """Every stored article, newest first. Read again only when the store's version moved: the
        server lists them for its article table and its source filter, and again for each refresh."""
        version = self.version()
        if self._listed is not None and self._listed[0] == version:
            return [a.model_copy() for a in self._listed[1]]
        out = [summary_from(meta_id, meta) for meta_id, meta in self._read(lambda: list(self._iter_articles()))]
        out.sort(key=lambda a: (a.date or dt.date.min, a.title), reverse=True)
        self._listed = (version, out)
        return [a.model_copy() for a in out]

    def _iter_articles(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for got in pages(self.articles, ["metadatas"], page=2000):
            yield from zip(got["ids"], got["metadatas"] or [], strict=True)

    def get_article(self, article_id: str) -> Article:
        found = self.get_articles([article_id])
        if article_id not in found:
            raise NotFoundError(f"no article with id {article_id!r}; `newsrag articles` lists the stored ids")
        return found[article_id]

    def get_articles(self, ids: Sequence[str]) -> dict[str, Article]:
        """Full articles (text and spans) by id; missing ids are left out."""
        if not ids:
            return {}
        unique = list(dict.fromkeys(ids))
        got = self._read(lambda: self.articles.get(ids=unique, include=["metadatas", "documents"]))
        out = {}
        for i, meta, doc in zip(got["ids"], got["metadatas"] or [], got["documents"] or [], strict=True):
            if meta is not None and doc is not None:
                out[i] = article_from(i, meta, doc)
        return out

    def query_sections(self, vector: np.ndarray, k: int, where: dict[str, Any] | None) -> list[SectionHit]:
        # no count() first: it costs 2.4 ms at 55k sections, and Chroma returns fewer rows (or none) itself
        tries: list[int] = []

        def run() -> list[SectionHit]:
            tries.append(1)
            got = self.sections.query(
                query_embeddings=[vector],
                n_results=k,
                where=where or None,
                include=["metadatas", "distances", "documents"],
            )
            rows = zip(got["ids"][0], got["metadatas"][0], got["distances"][0], got["documents"][0], strict=True)
            hits = [hit_from(cid, meta, 1.0 - float(dist), doc) for cid, meta, dist, doc in rows if meta is not None]
            if len(hits) < len(got["ids"][0]) and len(tries) == 1:
                # the vector index of this process still holds records another process deleted
                raise StoreError(f"Nothing found on disk for {len(got['ids'][0]) - len(hits)} section hits")
            return hits

        return self._read(run)

    def nearest_sections(self, vector: np.ndarray, n: int, where: dict[str, Any] | None) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the ``n`` sections nearest to ``vector``, best first, and nothing else:
        at 55k sections the search with metadata and text costs about 3x the search alone
        (docs/benchmarks.md), so retrieval fuses ids and reads only the sections it keeps."""
        got = self._read(
            lambda: self.sections.query(query_embeddings=[vector], n_results=n, where=where or None, include=["distances"])
        )
        return [(str(cid), 1.0 - float(dist)) for cid, dist in zip(got["ids"][0], got["distances"][0], strict=True)]

    def query_sentence_ids(self, vector: np.ndarray, n: int, where: dict[str, Any] | None) -> list[str]:
        """Ids of the ``n`` sentences nearest to ``vector`` (re-read, like every read here, when another
        process changed the store under this one)."""
        got = self._read(lambda: self.sentences.query(query_embeddings=[vector], n_results=n, where=where or None, include=[]))
        return [str(i) for i in got["ids"][0]]

    def sections_by_id(self, ids: Sequence[str]) -> dict[str, SectionHit]:
        if not ids:
            return {}
        got = self._read(lambda: self.sections.get(ids=list(ids), include=["metadatas", "documents"]))
        rows = zip(got["ids"], got["metadatas"], got["documents"], strict=True)
        return {cid: hit_from(cid, meta, 0.0, doc) for cid, meta, doc in rows if meta is not None}

    def sentences_by_id(self, ids: Sequence[str]) -> list[SentenceRecord]:
        """Sentence records with their vectors. Fetching by id is ~7x faster than a ``chunk_id $in``
        filter at 200k sentences (docs/benchmarks.md), and ids follow from the article's spans."""
        if not ids:
            return []
        include = ["metadatas", "documents", "embeddings"]
        return _sentence_rows(self._read(lambda: self.sentences.get(ids=list(ids), include=include)))

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these sentences (ids the store lacks are left out), and nothing else:
        a sentence's text, offsets and section are its article's, which the caller already holds.
        Fetching metadata and documents as well costs about 5x as much (docs/benchmarks.md)."""
        if not ids:
            return {}
        got = self._read(lambda: self.sentences.get(ids=list(ids), include=["embeddings"]))
        vectors = got["embeddings"] if got["embeddings"] is not None else []
        return {sid: np.asarray(v, dtype=np.float32) for sid, v in zip(got["ids"], vectors, strict=True)}

    def sentences_for(self, chunk_ids: Sequence[str]) -> list[SentenceRecord]:
        """Sentence records of the given chunks, by metadata filter."""
        if not chunk_ids:
            return []
        where = {"chunk_id": {"$in": list(chunk_ids)}}
        include = ["metadatas", "documents", "embeddings"]
        return _sentence_rows(self._read(lambda: self.sentences.get(where=where, include=include)))

    def sentence_count(self) -> int:
        return int(self._read(lambda: self.sentences.count()))

    def sentence_vector_pages(self, page: int = 5000) -> Iterator[tuple[list[str], np.ndarray]]:
        """(ids, vectors) of every sentence record, ``page`` at a time, each page re-read like every read
        here when a stale view fails it; a caller that needs one version checks it around the pass."""
        offset = 0
        while True:
            got = self._read(partial(self._sentence_page, page, offset))
            ids = [str(i) for i in got["ids"]]
            if ids:
                yield ids, np.asarray(got["embeddings"], dtype=np.float32)
            if len(ids) < page:
                return
            offset += page

    def _sentence_page(self, page: int, offset: int) -> Any:
        return self.sentences.get(include=["embeddings"], limit=page, offset=offset)

    def iter_sections(self, page: int = 5000) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(chunk id, embedded text, metadata) of every section record, for the lexical index."""
        rows = self._read(
            lambda: [
                r
                for got in pages(self.sections, ["metadatas", "documents"], page=page)
                for r in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
            ]
        )
        yield from rows


def pages(col: Any, include: list[str], page: int = 5000) -> Iterator[dict[str, Any]]:
    """Every record of a Chroma collection, ``page`` at a time: the one paging loop of the store."""
    offset = 0
    while True:
        got = col.get(include=include, limit=page, offset=offset)
        yield got
        if len(got["ids"]) < page:
            return
        offset += page


def _sentence_rows(got: dict[str, Any]) -> list[SentenceRecord]:
    out = []
    for sid, meta, doc, vec in zip(got["ids"], got["metadatas"], got["documents"], got["embeddings"], strict=True):
        if meta is None or doc is None:
            continue  # deleted while we read
        out.append(
            SentenceRecord(
                id=sid,
                article_id=meta["article_id"],
                chunk_id=meta["chunk_id"],
                section=int(meta["section"]),
                index=int(meta["sentence"]),
                start=int(meta["start"]),
                end=int(meta["end"]),
                text=doc,
                vector=np.asarray(vec, dtype=np.float32),
            )
        )
    return out


def _mismatch(where: str, collection: str, stored: str, wanted: str) -> str:
    from .embed import split_identity

    model, backend = split_identity(stored)
    if (model, backend) == split_identity(wanted):
        return (
            f"the store at {where} (collection {collection!r}) holds vectors from an earlier export of {wanted!r} "
            f"({stored!r}), which this version makes differently. Run `newsrag reindex` to re-embed the stored "
            "articles, or set NEWSRAG_EMBEDDING_BACKEND=onnx (or torch) and reindex to that."
        )
    setting = f"NEWSRAG_EMBEDDING_MODEL={model!r}"
    if backend or split_identity(wanted)[1]:
        setting += f" and NEWSRAG_EMBEDDING_BACKEND={backend or 'onnx'!r}"
    return (
        f"the store at {where} (collection {collection!r}) holds vectors from {stored!r}, but the configured "
        f"embedder is {wanted!r}. Set {setting}, or run `newsrag reindex` to re-embed the stored articles "
        f"with {wanted!r}, or use another NEWSRAG_HOME / NEWSRAG_COLLECTION."
    )


def make_store(settings: Settings | None = None, model: str | None = None) -> Store:
    """The store named by the settings: a Chroma server when ``NEWSRAG_CHROMA_URL`` is set, else embedded."""
    settings = settings or get_settings()
    if model is None:
        from .embed import make_embedder

        model = make_embedder(settings).name
    where = settings.chroma_url or str(settings.chroma_path)
    return Store(
        _handle_for(settings),
        settings.collection,
        model,
        where,
        write_lock=_write_lock(settings),
        ef_search=settings.hnsw_ef_search,
    )
