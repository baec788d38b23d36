"""The default answerer: deterministic and extractive. It decides whether the evidence answers the
question at all (and if not, says why), then answers with the chosen quotes, grouped by article."""

from __future__ import annotations

import time
from collections.abc import Iterator

from .answertype import expected_type, satisfies
from .citations import citations_for
from .compose import abstention_text, extractive_lines
from .evidence import Evidence, make_answer
from .models import Answer
from .quote import merge, select
from .rewrite import unmentioned_topic

__all__ = ["answerable", "extractive_answer"]


def answerable(ev: Evidence, threshold: float) -> tuple[bool, str | None]:
    """Whether the evidence clears the calibrated bar; if not, an optional reason for the reader."""
    missing = unmentioned_topic(ev.query, ev.index)
    if missing:
        return False, f"none of them mentions “{missing}”"
    if not ev.candidates or ev.candidates[0].score < threshold:
        return False, None
    kind = expected_type(ev.inp.question)
    if kind and not any(satisfies(c.record.text, kind) for c in ev.candidates if c.score >= threshold):
        what = "an amount of money" if kind == "money" else "a number"
        return False, f"no relevant passage gives {what}"
    return True, None


def extractive_answer(ev: Evidence, threshold: float, max_quotes: int) -> Iterator[str | Answer]:
    """Yield the answer's text a line at a time, then the :class:`Answer`."""
    t = time.perf_counter()
    ok, reason = answerable(ev, threshold)
    if not ok:
        text = abstention_text(ev.retrieved, reason)
        ev.timings["compose_ms"] = (time.perf_counter() - t) * 1000
        yield text
        yield make_answer(ev, text, [], True, "extractive")
        return
    chosen = select(ev.candidates, max_quotes, threshold)
    citations = citations_for(merge(chosen, ev.articles), ev.articles)
    parts = []
    for line in extractive_lines(citations):
        parts.append(line)
        yield line
    ev.timings["compose_ms"] = (time.perf_counter() - t) * 1000
    yield make_answer(ev, "".join(parts).strip(), citations, False, "extractive")
