"""Hybrid section retrieval: dense search in Chroma plus BM25, fused by reciprocal rank."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dates import iso_date
from .errors import QueryError
from .lexical import LexicalIndex
from .models import ArticleSummary
from .store import SectionHit, Store, day_number

__all__ = [
    "Filters",
    "Fused",
    "retrieve",
    "search_depth",
    "nearest_sentences",
    "RRF_K",
    "SENTENCE_DEPTH",
    "QUOTE_SECTIONS",
    "unmatched",
]

RRF_K = 60
#: Sentences fetched by their own vectors, beside those of the retrieved sections: with many outlets on
#: one story, the answering sentence often sits in a section that did not rank in the top k.
SENTENCE_DEPTH = 30
#: sections retrieved after the k best for the default answerer's quotes only (news/dev, news/dev2: 2
#: answers and 3 first citations more, no decision whether to answer changed; docs/benchmarks.md, round 10)
QUOTE_SECTIONS = 2
#: Values a list filter (sources, article_ids) may hold.
MAX_FILTER_VALUES = 1000


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None
    until: dt.date | None = None
    sources: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: object, max_values: int | None = None) -> Filters:
        if raw is None:
            return cls()
        if isinstance(raw, Filters):
            return raw
        if not isinstance(raw, dict):
            raise QueryError(
                f'filters must be an object such as {{"since": "2026-03-01", "sources": ["example.com"]}}, '
                f"got {type(raw).__name__} {str(raw)[:60]!r}"
            )
        unknown = set(raw) - {"since", "until", "sources", "article_ids"}
        if unknown:
            raise QueryError(f"unknown filter {sorted(map(str, unknown))}; allowed: since, until, sources, article_ids")
        filters = cls(
            since=_date(raw.get("since"), "since"),
            until=_date(raw.get("until"), "until"),
            sources=_strings(raw.get("sources"), "sources"),
            article_ids=_strings(raw.get("article_ids"), "article_ids"),
        )
        if filters.since and filters.until and filters.since > filters.until:
            raise QueryError(
                f"filters.since {filters.since} is after filters.until {filters.until}: no date is in that range; swap them"
            )
        limit = MAX_FILTER_VALUES if max_values is None else max_values
        for name, values in (("sources", filters.sources), ("article_ids", filters.article_ids)):
            if len(values) > limit:
                raise QueryError(f"filters.{name} has {len(values)} values; the limit is {limit} (NEWSRAG_MAX_FILTER_VALUES)")
        return filters

    def chroma_where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.since:
            clauses.append({"day": {"$gte": day_number(self.since)}})
        if self.until:
            clauses.append({"day": {"$lte": day_number(self.until)}})
            clauses.append({"day": {"$gte": 0}})
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.article_ids:
            clauses.append({"article_id": {"$in": list(self.article_ids)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def lexical_mask(self, index: LexicalIndex) -> np.ndarray | None:
        return index.mask(
            day_number(self.since) if self.since else None,
            day_number(self.until) if self.until else None,
            list(self.sources),
            list(self.article_ids),
        )


def unmatched(filters: Filters, stored: list[ArticleSummary]) -> str | None:
    """Why a search with ``filters`` finds nothing among the ``stored`` articles, in words a reader can act
    on: the filter that no stored article meets and what is stored, or that only their combination fails
    (None when no filter is set and articles are stored: then something else is wrong)."""
    if not stored:
        return "no article is stored yet; add some with `newsrag ingest PATH` (`newsrag serve` adds the bundled ones)"
    checks: list[tuple[str, str, Any]] = []  # (what the filter asks, what is stored, whether an article meets it)
    if filters.sources:
        outlets = sorted({a.source for a in stored if a.source})
        checks.append(
            (
                "from " + _few(filters.sources, " or "),
                f"from {_few(outlets, ', ')}" if outlets else "from no named outlet",
                lambda a: a.source in filters.sources,
            )
        )
    if filters.since or filters.until:
        days = sorted(a.date for a in stored if a.date)
        if filters.since and filters.until:
            asked = f"dated {filters.since}" if filters.since == filters.until else f"dated {filters.since} to {filters.until}"
        else:
            asked = f"dated {filters.since} or later" if filters.since else f"dated {filters.until} or earlier"
        have = "undated" if not days else f"dated {days[0]}" if days[0] == days[-1] else f"dated {days[0]} to {days[-1]}"
        since, until = filters.since, filters.until
        checks.append(
            (asked, have, lambda a: a.date is not None and (not since or a.date >= since) and (not until or a.date <= until))
        )
    if filters.article_ids:
        checks.append(
            (
                "with the id " + _few(filters.article_ids, " or "),
                "`newsrag articles` lists their ids",
                lambda a: a.id in filters.article_ids,
            )
        )
    if not checks:
        return None
    count = f"{len(stored)} article" + ("s" if len(stored) > 1 else "")
    for asked, have, meets in checks:
        if not any(meets(a) for a in stored):
            return f"no stored article is {asked} (stored: {count}, {have}); widen or drop that filter"
    asked = " and ".join(asked for asked, _, _ in checks)
    return f"no stored article is {asked}, though each filter alone is met by some; widen or drop one of them"


def _few(values: Sequence[str], sep: str, n: int = 5) -> str:
    """At most ``n`` of ``values``, and how many more."""
    return sep.join(values[:n]) + (f" and {len(values) - n} more" if len(values) > n else "")


def _date(value: Any, name: str) -> dt.date | None:
    try:
        return iso_date(value, f"filters.{name}")
    except ValueError as e:
        raise QueryError(f"{e}; write it as YYYY-MM-DD, e.g. 2026-03-04") from None


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise QueryError(f"filters.{name} must be a list of strings, got {str(value)[:80]!r}")
    return tuple(value)


def search_depth(k: int) -> int:
    """How deep the dense and the lexical search go for the k best sections."""
    return max(4 * k, 20)


@dataclass
class Fused:
    chunk_id: str
    article_id: str
    section: int
    headline: str | None
    title: str
    score: float  # fused RRF score
    dense: float = 0.0  # cosine similarity, 0 when only the lexical side found it
    lexical: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def heading(self) -> str:
        """The article's title and the section's headline: the words a sentence's lexical score reads beside its own."""
        return " ".join(x for x in (self.title, self.headline or "") if x)


def retrieve(
    store: Store,
    index: LexicalIndex,
    vector: np.ndarray,
    query: str,
    filters: Filters,
    k: int,
    timings: dict[str, float] | None = None,
    depth: int | None = None,
) -> list[Fused]:
    """The k best sections for the query, by reciprocal-rank fusion of dense and BM25 rankings, each
    searched ``depth`` deep (default :func:`search_depth` of k)."""
    timings = timings if timings is not None else {}
    depth = depth or search_depth(k)
    t = time.perf_counter()
    dense = store.nearest_sections(vector, depth, filters.chroma_where())
    timings["dense_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    lexical = index.search(query, depth, filters.lexical_mask(index))
    timings["lexical_ms"] = (time.perf_counter() - t) * 1000

    scores: dict[str, _Scores] = {}
    for rank, (cid, similarity) in enumerate(dense):
        scores[cid] = _Scores(1.0 / (RRF_K + rank + 1), dense=similarity)
    for rank, (cid, score) in enumerate(lexical):
        s = scores.setdefault(cid, _Scores(0.0))
        s.fused += 1.0 / (RRF_K + rank + 1)
        s.lexical = score
    order = sorted(scores, key=lambda cid: scores[cid].fused, reverse=True)
    # only the sections kept are read; one deleted since the search is left out and the next one read
    hits: dict[str, SectionHit] = {}
    read = 0
    while len(hits) < k and read < len(order):
        batch = order[read : read + k - len(hits)]
        hits.update(store.sections_by_id(batch))
        read += len(batch)
    return [_fused(hits[cid], scores[cid]) for cid in order[:read] if cid in hits]


@dataclass
class _Scores:
    fused: float  # reciprocal-rank fusion of the two rankings
    dense: float = 0.0
    lexical: float = 0.0


def _fused(hit: SectionHit, scores: _Scores) -> Fused:
    return Fused(
        chunk_id=hit.chunk_id,
        article_id=hit.article_id,
        section=hit.section,
        headline=hit.headline,
        title=hit.title,
        score=scores.fused,
        dense=scores.dense,
        lexical=scores.lexical,
        meta=hit.metadata,
    )


def nearest_sentences(store: Store, vector: np.ndarray, n: int, filters: Filters) -> list[str]:
    """Ids of the ``n`` sentences nearest the question vector (sentence records carry day, source and
    article id, so the same filters apply)."""
    return store.query_sentence_ids(vector, n, filters.chroma_where())
