"""The default answerer: deterministic and extractive. It decides whether the evidence answers the
question at all (and if not, says why), then answers with the chosen quotes, grouped by article."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

from .adapter import reorder
from .answertype import DESCRIBED, expected_type, satisfies
from .citations import citations_for
from .compose import abstention_text, extractive_lines
from .evidence import Evidence, make_answer
from .models import Answer
from .question import analyze, answer_kind_met
from .quote import PARAMS, Candidate, QuoteParams, merge, rank, select
from .ranking import abstain_reason, answerable_probability, explain
from .rewrite import unmentioned_topic
from .scorer import Scorer
from .support import unsupported

__all__ = [
    "answerable",
    "extractive_answer",
    "prefer_quantities",
    "quote_floor",
    "quote_params",
    "quote_pool",
    "LEARNED",
    "QUANTITY_BONUS",
]

#: Selection over the learned scorer's probabilities: the floor comes from the scorer (keep_ratio, keep_floor),
#: so no margin; a neighbour joins its quote only when nearly as likely to answer.
LEARNED = QuoteParams(margin=1.0, neighbour_margin=0.15, per_article=2)
#: "How much / how many / what share ...?": among the quotable passages, those that give an amount, a number
#: or a percentage rank this much higher (news/dev, news/dev2, newsrag_qa: 3 first citations more, none fewer)
QUANTITY_BONUS = 0.05
QUANTITY_KINDS = frozenset({"amount", "number", "percent"})


def answerable(ev: Evidence, threshold: float, scorer: Scorer | None = None) -> tuple[bool, str | None]:
    """Whether the evidence answers the question; if not, an optional reason for the reader. Whether the
    passages are relevant is decided by the learned ``scorer``'s question model, or without one by the
    hand-set relevance bar ``threshold``; then, either way, the passages must support what the question
    takes for granted (``rag.support``, on the passages the hand scores make quotable)."""
    if ev.nothing_found:
        return False, ev.nothing_found
    missing = ev.unmentioned or unmentioned_topic(ev.query, ev.index)
    if missing:
        return False, f"none of them mentions “{missing}”"
    if scorer is not None:
        if answerable_probability(ev, scorer) < scorer.abstain_below:
            return False, abstain_reason(ev)
    else:
        if not ev.candidates or ev.relevance < threshold:
            return False, explain(ev)
        kind = expected_type(ev.inp.question)
        if kind and not any(satisfies(c.record.text, kind) for c in ev.candidates if c.score >= threshold):
            what = DESCRIBED[kind]
            return False, f"no relevant passage gives {what}"
    reason = ev.unreported or unsupported(ev.turn or ev.query, ev.quotable, ev.decision_articles, ev.index)
    return (False, reason) if reason else (True, None)


def extractive_answer(
    ev: Evidence, threshold: float, max_quotes: int, scorer: Scorer | None = None, max_chars: int = 0
) -> Iterator[str | Answer]:
    """Yield the answer's text a line at a time, then the :class:`Answer`; its quotes hold at most
    ``max_chars`` characters (0: no limit) beyond the first."""
    t = time.perf_counter()
    ok, reason = answerable(ev, threshold, scorer)
    if not ok:
        text = abstention_text(ev.retrieved, reason)
        ev.timings["compose_ms"] = (time.perf_counter() - t) * 1000
        yield text
        yield make_answer(ev, text, [], True, "extractive")
        return
    pool = quote_pool(ev, scorer)
    chosen = select(pool, max_quotes, quote_floor(pool, threshold, scorer), quote_params(scorer), max_chars)
    citations = citations_for(merge(chosen, ev.articles), ev.articles)
    parts = []
    for line in extractive_lines(citations):
        parts.append(line)
        yield line
    ev.timings["compose_ms"] = (time.perf_counter() - t) * 1000
    yield make_answer(ev, "".join(parts).strip(), citations, False, "extractive")


def quote_pool(ev: Evidence, scorer: Scorer | None = None) -> list[Candidate]:
    """The candidates the quotes are chosen from, best first, as selection reads them: the learned
    ``scorer``'s probabilities, or the hand scores of every scored sentence (those of the quote-only
    sections too) with the question adapter's shift and the quantity preference. Whether to answer was
    decided on ``ev.candidates`` before this."""
    if scorer is not None:
        return ev.candidates
    return prefer_quantities(reorder(ev.for_quotes or ev.candidates, ev.quote_shift), ev.turn or ev.query)


def quote_floor(pool: list[Candidate], threshold: float, scorer: Scorer | None = None) -> float:
    """The lowest score a candidate of ``pool`` (:func:`quote_pool`) may have and be quoted: the relevance
    bar, or with the learned ``scorer`` its share of the best probability (``rag.quote.quote_cut`` adds the
    margin)."""
    if scorer is None or not pool:
        return threshold
    return max(scorer.keep_floor, scorer.keep_ratio * pool[0].score)


def quote_params(scorer: Scorer | None = None) -> QuoteParams:
    """The selection's numbers: :data:`LEARNED` over the learned scorer's probabilities, else the hand ones."""
    return LEARNED if scorer is not None else PARAMS


def prefer_quantities(candidates: list[Candidate], question: str) -> list[Candidate]:
    """For a question that asks for a quantity, the candidates re-ranked with :data:`QUANTITY_BONUS` for
    those that hold one (new objects: the evidence keeps its scores); otherwise ``candidates`` unchanged.
    Only quote order and choice change: whether to answer was decided on the scores before it."""
    kind = analyze(question).kind
    if kind not in QUANTITY_KINDS:
        return candidates
    return rank([replace(c, score=c.score + QUANTITY_BONUS) if answer_kind_met(c.record.text, kind) else c for c in candidates])
