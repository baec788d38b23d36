"""The Chroma store: three collections per prefix, all written by ingest and read by the chain.

* ``<prefix>_articles``: one record per article; the document is the full body text and the metadata
  holds the spans. It is written *last* for an article, so it doubles as the commit marker: an article
  whose marker is missing or stale is re-written on the next ingest, and orphans are swept.
* ``<prefix>_sections``: one record per chunk (a headline section or a part of a long one).
* ``<prefix>_sentences``: one record per sentence, with its own vector, for quote selection.

The collections record the embedding model; opening them with another model raises
:class:`~rag.errors.ModelMismatchError` instead of mixing vectors.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
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
__all__ = ["Store", "make_store", "SectionHit", "SentenceRecord", "day_number", "ArticleWrite", "Marker", "pages"]

log = logging.getLogger(__name__)

SCHEMA = 1
_CLIENTS: dict[str, Any] = {}
_CLIENT_LOCK = threading.Lock()


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


def _client_for(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    key = settings.chroma_url or str(settings.chroma_path.resolve())
    with _CLIENT_LOCK:
        client = _CLIENTS.get(key)
        if client is not None:
            return client
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
            else:
                settings.chroma_path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
        except Exception as e:  # connection refused, bad folder, ...
            where = settings.chroma_url or settings.chroma_path
            raise StoreError(
                f"cannot open the Chroma store at {where}: {e}. Check NEWSRAG_CHROMA_URL (is `chroma run` up?) or NEWSRAG_HOME."
            ) from e
        _CLIENTS[key] = client
        return client


class Store:
    """Reads and writes newsrag's records in one Chroma database."""

    def __init__(self, client: Any, prefix: str, model: str, where: str) -> None:
        self.client = client
        self.prefix = prefix
        self.model = model
        self.where = where
        self._cols: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._text_cache: dict[tuple[str, str], Article] = {}

    # -- collections ---------------------------------------------------------------------------
    def _name(self, kind: str) -> str:
        return f"{self.prefix}_{kind}"

    def _collection(self, kind: str) -> Any:
        col = self._cols.get(kind)
        if col is None:
            with self._lock:
                col = self.client.get_or_create_collection(
                    self._name(kind),
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"model": self.model, "schema": SCHEMA, "generation": 0},
                    embedding_function=None,
                )
                stored = (col.metadata or {}).get("model")
                if stored and stored != self.model:
                    raise ModelMismatchError(
                        f"the store at {self.where} (collection {self._name(kind)!r}) holds vectors from "
                        f"{stored!r}, but NEWSRAG_EMBEDDING_MODEL is {self.model!r}. Set "
                        f"NEWSRAG_EMBEDDING_MODEL={stored!r}, or run `newsrag reindex` to re-embed the stored "
                        f"articles with {self.model!r}, or use another NEWSRAG_HOME / NEWSRAG_COLLECTION."
                    )
                self._cols[kind] = col
        return col

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
            self._collection(kind)

    # -- generation: bumped by every write, read by caches (lexical index, article texts) -------
    def generation(self) -> int:
        return int(self._meta().get("generation", 0))

    def _meta(self) -> dict[str, Any]:
        return dict(self.client.get_collection(self._name("articles")).metadata or {})

    def is_dirty(self) -> bool:
        """True while an ingest is writing, or after one was killed half way."""
        self.check()
        return bool(self._meta().get("dirty"))

    def set_dirty(self, dirty: bool) -> None:
        """Mark the store as being written; clearing the mark bumps the generation that caches watch."""
        with self._lock:
            col = self.articles
            meta = self._meta()
            meta["dirty"] = int(dirty)
            if not dirty:
                meta["generation"] = int(meta.get("generation", 0)) + 1
            meta.setdefault("model", self.model)
            col.modify(metadata=meta)

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

    def _delete_children(self, ids: list[str]) -> None:
        for col in (self.sentences, self.sections):
            for i in range(0, len(ids), 200):
                col.delete(where={"article_id": {"$in": ids[i : i + 200]}})

    def delete(self, ids: list[str]) -> None:
        """Remove articles and everything that belongs to them (marker first: no half-visible article)."""
        if ids:
            self.articles.delete(ids=ids)
            self._delete_children(ids)

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
        return int(self.articles.count())

    def list_articles(self) -> list[ArticleSummary]:
        out = []
        for meta_id, meta in self._iter_articles():
            out.append(summary_from(meta_id, meta))
        out.sort(key=lambda a: (a.date or dt.date.min, a.title), reverse=True)
        return out

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
        got = self.articles.get(ids=list(dict.fromkeys(ids)), include=["metadatas", "documents"])
        out = {}
        for i, meta, doc in zip(got["ids"], got["metadatas"] or [], got["documents"] or [], strict=True):
            out[i] = article_from(i, meta, doc)
        return out

    def query_sections(self, vector: np.ndarray, k: int, where: dict[str, Any] | None) -> list[SectionHit]:
        # no count() first: it costs 2.4 ms at 55k sections, and Chroma returns fewer rows (or none) itself
        got = self.sections.query(
            query_embeddings=[vector],
            n_results=k,
            where=where or None,
            include=["metadatas", "distances", "documents"],
        )
        hits = []
        rows = zip(got["ids"][0], got["metadatas"][0], got["distances"][0], got["documents"][0], strict=True)
        for cid, meta, dist, doc in rows:
            hits.append(hit_from(cid, meta, 1.0 - float(dist), doc))
        return hits

    def sections_by_id(self, ids: Sequence[str]) -> dict[str, SectionHit]:
        if not ids:
            return {}
        got = self.sections.get(ids=list(ids), include=["metadatas", "documents"])
        rows = zip(got["ids"], got["metadatas"], got["documents"], strict=True)
        return {cid: hit_from(cid, meta, 0.0, doc) for cid, meta, doc in rows}

    def sentences_by_id(self, ids: Sequence[str]) -> list[SentenceRecord]:
        """Sentence records with their vectors. Fetching by id is ~7x faster than a ``chunk_id $in``
        filter at 200k sentences (docs/benchmarks.md), and ids follow from the article's spans."""
        if not ids:
            return []
        return _sentence_rows(self.sentences.get(ids=list(ids), include=["metadatas", "documents", "embeddings"]))

    def sentences_for(self, chunk_ids: Sequence[str]) -> list[SentenceRecord]:
        """Sentence records of the given chunks, by metadata filter."""
        if not chunk_ids:
            return []
        where = {"chunk_id": {"$in": list(chunk_ids)}}
        return _sentence_rows(self.sentences.get(where=where, include=["metadatas", "documents", "embeddings"]))

    def iter_sections(self, page: int = 5000) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(chunk id, embedded text, metadata) of every section record, for the lexical index."""
        for got in pages(self.sections, ["metadatas", "documents"], page=page):
            yield from zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)


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


def make_store(settings: Settings | None = None, model: str | None = None) -> Store:
    """The store named by the settings: a Chroma server when ``NEWSRAG_CHROMA_URL`` is set, else embedded."""
    settings = settings or get_settings()
    if model is None:
        from .embed import make_embedder

        model = make_embedder(settings).name
    where = settings.chroma_url or str(settings.chroma_path)
    return Store(_client_for(settings), settings.collection, model, where)
