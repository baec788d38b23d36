"""Metrics over Answers: quote validity, gold overlap, retrieval rank, abstention, latency.

Pure functions of an :class:`~rag.models.Answer`, the dataset item resolved against the store and the
stored article texts; docs/eval.md defines each metric. A citation *overlaps* a gold occurrence when it
cites the same article and their character spans ``[start, end)`` intersect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from ..rag.models import Answer, Citation, Retrieved
from .datasets import GoldSpan, ResolvedItem

__all__ = [
    "Verdict",
    "Metrics",
    "METRICS",
    "LOWER_IS_BETTER",
    "quote_is_valid",
    "overlaps",
    "retrieval_ranks",
    "judge",
    "summarize",
    "percentile",
    "parse_threshold",
    "check_thresholds",
]

#: Metric names accepted by ``--min`` / ``--max``, with the label the table prints.
METRICS: dict[str, str] = {
    "quote_validity": "quote validity",
    "answer_hit": "answer hit",
    "first_citation_hit": "first citation hit",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "retrieval_recall": "retrieval recall@k",
    "mrr": "retrieval MRR",
    "abstention": "abstention (unanswerable)",
    "false_abstention": "false abstention (answerable)",
    "quoted_chars": "quoted characters per answer",
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
}
LOWER_IS_BETTER = frozenset({"false_abstention", "quoted_chars", "latency_p50_ms", "latency_p95_ms"})


class Verdict(BaseModel):
    """How one answer fared. ``problems`` is empty for a pass; ``None`` means "does not apply"."""

    id: str
    answerable: bool
    abstained: bool
    passed: bool
    problems: list[str] = Field(default_factory=list)
    citations: int = 0
    quoted_chars: int = 0
    invalid_citations: list[int] = Field(default_factory=list)
    gold_citations: list[int] = Field(default_factory=list)
    gold_covered: list[bool] = Field(default_factory=list)
    answer_hit: bool | None = None
    first_citation_hit: bool | None = None
    k: int = 0
    gold_rank: int | None = None
    retrieval_recall: float | None = None
    reciprocal_rank: float | None = None
    latency_ms: float = 0.0
    diagnosis: str | None = None
    best_score: float | None = None
    gold_score: float | None = None


class Metrics(BaseModel):
    """Aggregates over one system's verdicts; a rate is ``None`` when its denominator is zero."""

    questions: int
    answerable: int
    unanswerable: int
    citations: int
    quote_validity: float | None
    answer_hit: float | None
    first_citation_hit: float | None
    citation_precision: float | None
    citation_recall: float | None
    retrieval_recall: float | None
    mrr: float | None
    k: int
    abstention: float | None
    false_abstention: float | None
    quoted_chars: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    def value(self, name: str) -> float | None:
        if name not in METRICS:
            raise KeyError(name)
        value = getattr(self, name)
        return None if value is None else float(value)


def quote_is_valid(citation: Citation, texts: dict[str, str]) -> bool:
    """The quote is exactly the stored article text at ``[start, end)`` (and is not empty)."""
    text = texts.get(citation.article_id)
    if text is None or not 0 <= citation.start < citation.end <= len(text):
        return False
    return text[citation.start : citation.end] == citation.quote


class Located(Protocol):
    """A span of a stored article: a citation, a sentence record."""

    @property
    def article_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def overlaps(citation: Located, span: GoldSpan) -> bool:
    """Same article and intersecting half-open spans (touching ends do not count)."""
    return citation.article_id == span.article_id and citation.start < span.end and span.start < citation.end


def retrieval_ranks(retrieved: Sequence[Retrieved], gold_ids: Sequence[str]) -> tuple[int | None, float | None]:
    """(1-based rank of the first retrieved item from a gold article, share of gold articles retrieved),
    over the k best: sections retrieved for quotes only are not counted."""
    if not gold_ids:
        return None, None
    retrieved = [r for r in retrieved if not r.for_quotes]
    rank = next((i for i, r in enumerate(retrieved, start=1) if r.article_id in gold_ids), None)
    found = {r.article_id for r in retrieved} & set(gold_ids)
    return rank, len(found) / len(set(gold_ids))


def judge(answer: Answer, resolved: ResolvedItem, texts: dict[str, str], latency_ms: float = 0.0) -> Verdict:
    """Score one answer against its resolved dataset item."""
    item = resolved.item
    problems: list[str] = []
    invalid = [c.n for c in answer.citations if not quote_is_valid(c, texts)]
    for n in invalid:
        c = next(c for c in answer.citations if c.n == n)
        problems.append(f"citation [{n}] is not the stored text of {c.article_id} at [{c.start}, {c.end})")
    verdict = Verdict(
        id=item.id,
        answerable=item.answerable,
        abstained=answer.abstained,
        passed=False,
        citations=len(answer.citations),
        quoted_chars=sum(len(c.quote) for c in answer.citations),
        invalid_citations=invalid,
        k=sum(not r.for_quotes for r in answer.retrieved),
        latency_ms=round(latency_ms, 2),
    )
    if item.answerable:
        verdict.gold_citations = [c.n for c in answer.citations if any(overlaps(c, s) for s in resolved.spans)]
        verdict.gold_covered = [
            any(overlaps(c, s) for c in answer.citations for s in resolved.spans if s.gold == g) for g in range(len(item.gold))
        ]
        verdict.answer_hit = bool(verdict.gold_citations)
        verdict.first_citation_hit = bool(answer.citations) and answer.citations[0].n in verdict.gold_citations
        rank, recall = retrieval_ranks(answer.retrieved, resolved.gold_article_ids)
        verdict.gold_rank, verdict.retrieval_recall = rank, recall
        verdict.reciprocal_rank = 1.0 / rank if rank else 0.0
        if answer.abstained:
            problems.append("abstained on an answerable question")
        elif not verdict.answer_hit:
            problems.append(f"none of the {len(answer.citations)} citations overlaps a gold string")
    elif not answer.abstained:
        problems.append(f"answered an unanswerable question ({len(answer.citations)} citations)")
    verdict.problems = problems
    verdict.passed = not problems
    return verdict


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _rate(num: float, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarize(verdicts: Sequence[Verdict]) -> Metrics:
    """Pool the verdicts: rates over citations or gold strings are micro-averaged (pooled counts)."""
    ans = [v for v in verdicts if v.answerable]
    unans = [v for v in verdicts if not v.answerable]
    n_cit = sum(v.citations for v in verdicts)
    n_invalid = sum(len(v.invalid_citations) for v in verdicts)
    ans_cit = sum(v.citations for v in ans)
    gold_strings = sum(len(v.gold_covered) for v in ans)
    latencies = [v.latency_ms for v in verdicts]
    answered = [v for v in verdicts if not v.abstained]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return Metrics(
        questions=len(verdicts),
        answerable=len(ans),
        unanswerable=len(unans),
        citations=n_cit,
        quote_validity=_rate(n_cit - n_invalid, n_cit),
        answer_hit=_rate(sum(1 for v in ans if v.answer_hit), len(ans)),
        first_citation_hit=_rate(sum(1 for v in ans if v.first_citation_hit), len(ans)),
        citation_precision=_rate(sum(len(v.gold_citations) for v in ans), ans_cit),
        citation_recall=_rate(sum(sum(v.gold_covered) for v in ans), gold_strings),
        retrieval_recall=_rate(sum(v.retrieval_recall or 0.0 for v in ans), len(ans)),
        mrr=_rate(sum(v.reciprocal_rank or 0.0 for v in ans), len(ans)),
        k=max((v.k for v in verdicts), default=0),
        abstention=_rate(sum(1 for v in unans if v.abstained), len(unans)),
        false_abstention=_rate(sum(1 for v in ans if v.abstained), len(ans)),
        quoted_chars=round(sum(v.quoted_chars for v in answered) / len(answered), 1) if answered else None,
        latency_p50_ms=None if p50 is None else round(p50, 1),
        latency_p95_ms=None if p95 is None else round(p95, 1),
    )


def parse_threshold(text: str) -> tuple[str, float]:
    """``"answer_hit=0.9"`` (or ``"answer_hit=90%"``) -> ``("answer_hit", 0.9)``; ValueError names the fix."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name or not raw.strip():
        raise ValueError(f"{text!r}: expected METRIC=VALUE, e.g. answer_hit=0.9")
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join(METRICS)}")
    raw = raw.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"{text!r}: {raw!r} is not a number") from None
    return name, value


def check_thresholds(metrics: Metrics, minimums: dict[str, float], maximums: dict[str, float] | None = None) -> list[str]:
    """One line per threshold the metrics miss (a metric that was not measured misses every threshold)."""
    failed: list[str] = []
    for bound, limits in (("min", minimums), ("max", maximums or {})):
        for name, limit in limits.items():
            value = metrics.value(name)
            if value is None:
                failed.append(f"{name} was not measured (no question it applies to), required {bound} {limit:g}")
            elif bound == "min" and value < limit:
                failed.append(f"{name} = {value:g} is below the minimum {limit:g}")
            elif bound == "max" and value > limit:
                failed.append(f"{name} = {value:g} is above the maximum {limit:g}")
    return failed
