"""What one question brings to the answerers: the parsed chain input, the evidence retrieval found for
it, and the :class:`Answer` built from both. Answerers (extractive, LLM) receive an :class:`Evidence` and
never reach back into the chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import QueryError
from .features import Context
from .lexical import LexicalIndex
from .models import Answer, Article, Citation, Retrieved
from .quote import Candidate
from .retrieve import Filters, Fused

__all__ = ["ChainInput", "Evidence", "Limits", "make_answer"]


@dataclass(frozen=True)
class Limits:
    """Size limits of one chain input (the chain builds them from :class:`Settings`). Every input is
    bounded so that one request cannot stall a server that answers many."""

    question_chars: int = 2000
    history_items: int = 50
    history_item_chars: int = 4000
    filter_values: int = 1000

    @classmethod
    def of(cls, settings: object) -> Limits:
        """The limits a settings object names (``max_question_chars``, ``max_history_items``,
        ``max_history_item_chars``, ``max_filter_values``), defaults for any it does not."""
        return cls(
            question_chars=int(getattr(settings, "max_question_chars", cls.question_chars)),
            history_items=int(getattr(settings, "max_history_items", cls.history_items)),
            history_item_chars=int(getattr(settings, "max_history_item_chars", cls.history_item_chars)),
            filter_values=int(getattr(settings, "max_filter_values", cls.filter_values)),
        )


@dataclass
class ChainInput:
    question: str
    history: list[str]
    filters: Filters
    k: int

    @classmethod
    def parse(cls, raw: Any, default_k: int, limits: Limits | None = None) -> ChainInput:
        limits = limits or Limits()
        if isinstance(raw, str):
            raw = {"question": raw}
        if not isinstance(raw, dict):
            raise QueryError(f"chain input must be a dict with a 'question' (or a string), got {type(raw).__name__}")
        question = raw.get("question")
        if not isinstance(question, str) or not question.strip():
            raise QueryError("'question' must be a non-empty string")
        if len(question) > limits.question_chars:
            raise QueryError(
                f"the question is {len(question):,} characters; the limit is {limits.question_chars:,} "
                "(NEWSRAG_MAX_QUESTION_CHARS); ask something shorter"
            )
        history = raw.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            raise QueryError("'history' must be a list of earlier user questions (strings), oldest first")
        if len(history) > limits.history_items:
            raise QueryError(
                f"'history' has {len(history):,} turns; the limit is {limits.history_items:,} "
                "(NEWSRAG_MAX_HISTORY_ITEMS); send only the latest turns"
            )
        for i, turn in enumerate(history):
            if len(turn) > limits.history_item_chars:
                raise QueryError(
                    f"history[{i}] is {len(turn):,} characters; the limit is {limits.history_item_chars:,} "
                    "(NEWSRAG_MAX_HISTORY_ITEM_CHARS)"
                )
        k = raw.get("k", default_k)
        if not isinstance(k, int) or not 1 <= k <= 50:
            raise QueryError(f"'k' must be an integer from 1 to 50, got {k!r}")
        return cls(question.strip(), history, Filters.parse(raw.get("filters"), limits.filter_values), k)


@dataclass
class Evidence:
    """Everything retrieval found for one question, before an answerer composes from it."""

    inp: ChainInput
    query: str
    sections: list[Fused]
    candidates: list[Candidate]
    articles: dict[str, Article]
    timings: dict[str, float]
    index: LexicalIndex
    #: the question as the learned scorer reads it, and its candidates' features (None without a scorer)
    context: Context | None = None
    features: np.ndarray | None = None

    @property
    def retrieved(self) -> list[Retrieved]:
        return [
            Retrieved(
                article_id=f.article_id,
                section=f.section,
                headline=f.headline,
                title=f.title,
                similarity=round(f.dense, 4),
                fused=round(f.score, 6),
            )
            for f in self.sections
        ]


def make_answer(ev: Evidence, text: str, citations: list[Citation], abstained: bool, backend: str) -> Answer:
    return Answer(
        question=ev.inp.question,
        answer=text,
        abstained=abstained,
        citations=citations,
        retrieved=ev.retrieved,
        timings_ms={k: round(v, 2) for k, v in ev.timings.items()},
        rewritten_question=ev.query if ev.query != ev.inp.question else None,
        backend=backend,
    )
