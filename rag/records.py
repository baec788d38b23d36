"""Chroma record layouts: what one article, section or sentence record holds, and back.

Metadata values are primitives (Chroma has no dates or lists): dates are ISO strings plus an integer
day for range filters; an article's spans are JSON strings.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dates import iso_date
from .models import Article, ArticleSummary, Chunk, Section, Sentence

__all__ = [
    "sentence_id",
    "sentence_article",
    "day_number",
    "SectionHit",
    "SentenceRecord",
    "base_meta",
    "article_meta",
    "chunk_lookup",
    "summary_from",
    "article_from",
    "hit_from",
    "origin",
]

_EPOCH = dt.date(1970, 1, 1)


def sentence_id(article_id: str, index: int) -> str:
    return f"{article_id}:s{index}"


def sentence_article(sid: str) -> str:
    """The article id inside a :func:`sentence_id`."""
    return sid.rsplit(":s", 1)[0]


def day_number(date: dt.date | None) -> int:
    """Days since 1970-01-01, or -1 for an unknown date (Chroma metadata has no dates)."""
    return (date - _EPOCH).days if date else -1


@dataclass
class SectionHit:
    chunk_id: str
    article_id: str
    section: int
    headline: str | None
    title: str
    score: float
    text: str
    metadata: dict[str, Any]


@dataclass
class SentenceRecord:
    id: str
    article_id: str
    chunk_id: str
    section: int
    index: int
    start: int
    end: int
    text: str
    vector: np.ndarray


def base_meta(a: Article) -> dict[str, Any]:
    return {
        "article_id": a.id,
        "title": a.title,
        "url": a.url or "",
        "source": a.source or "",
        "date": a.date.isoformat() if a.date else "",
        "day": day_number(a.date),
        "hash": a.content_hash,
    }


def article_meta(a: Article, model: str) -> dict[str, Any]:
    return base_meta(a) | {
        "path": a.path or "",
        "line": a.line or 0,
        "n_sections": len(a.sections),
        "n_sentences": len(a.sentences),
        "model": model,
        "sections": json.dumps([[s.start, s.body_start, s.end, s.headline] for s in a.sections]),
        "sentences": json.dumps([[s.section, s.start, s.end] for s in a.sentences]),
        "ingested": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def chunk_lookup(chunks: list[Chunk]) -> Any:
    def find(sent: Sentence) -> str:
        for c in chunks:
            if c.section == sent.section and c.start <= sent.start < c.end:
                return c.id
        return next(c.id for c in chunks if c.section == sent.section)

    return find


def origin(meta: dict[str, Any]) -> tuple[str | None, int | None]:
    """(file, JSON Lines line) an article was read from. Stores written before the line had its own
    field kept it in the path as ``FILE#L<line>``; this is the one place that reads that form."""
    path, line = meta.get("path") or None, int(meta.get("line") or 0) or None
    if path and line is None and "#L" in path:
        head, _, tail = path.rpartition("#L")
        if tail.isdigit():
            path, line = head, int(tail)
    return path, line


def summary_from(article_id: str, meta: dict[str, Any]) -> ArticleSummary:
    path, line = origin(meta)
    return ArticleSummary(
        id=article_id,
        title=meta.get("title", ""),
        url=meta.get("url") or None,
        source=meta.get("source") or None,
        date=iso_date(meta.get("date"), "stored date"),
        path=path,
        line=line,
        n_sections=int(meta.get("n_sections", 0)),
        n_sentences=int(meta.get("n_sentences", 0)),
    )


def article_from(article_id: str, meta: dict[str, Any], text: str) -> Article:
    sections = [
        Section(index=i, start=s, body_start=b, end=e, headline=h)
        for i, (s, b, e, h) in enumerate(json.loads(meta.get("sections", "[]")))
    ]
    spans = json.loads(meta.get("sentences", "[]"))
    sentences = [Sentence(index=i, section=sec, start=s, end=e) for i, (sec, s, e) in enumerate(spans)]
    summary = summary_from(article_id, meta)
    return Article(**summary.model_dump(), text=text, sections=sections, sentences=sentences, content_hash=meta.get("hash", ""))


def hit_from(cid: str, meta: dict[str, Any], score: float, doc: str) -> SectionHit:
    return SectionHit(
        chunk_id=cid,
        article_id=meta["article_id"],
        section=int(meta["section"]),
        headline=meta.get("headline") or None,
        title=meta.get("title", ""),
        score=score,
        text=doc,
        metadata=meta,
    )
