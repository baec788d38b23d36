"""What one question brings to the answerers: the parsed chain input, the evidence retrieval found for
it, and the :class:`Answer` built from both. Answerers (extractive, LLM) receive an :class:`Evidence` and
never reach back into the chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from .errors import QueryError
from .features import Context
from .lexical import LexicalIndex
from .models import Answer, Article, Citation, Retrieved
from .quote import Candidate
from .retrieve import Filters, Fused

__all__ = ["ChainInput", "Evidence", "Limits", "make_answer", "user_turns"]


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
        """Check one chain input: a string (the question), a dict, or a :class:`NewsragInput`. Each
        bad value is a :class:`QueryError` that names it."""
        limits = limits or Limits()
        if isinstance(raw, str):
            raw = {"question": raw}
        elif isinstance(raw, BaseModel):
            raw = {name: getattr(raw, name) for name in type(raw).model_fields}
        if not isinstance(raw, dict):
            raise QueryError(
                f"chain input must be a dict with a 'question' (or a string, or a NewsragInput), got {type(raw).__name__}"
            )
        unknown = sorted(str(key) for key in raw if key not in _FIELDS)
        if unknown:
            raise QueryError(f"unknown input field {unknown}; allowed: {', '.join(_FIELDS)}")
        question = raw.get("question")
        if not isinstance(question, str) or not question.strip():
            raise QueryError(f"'question' must be a non-empty string, got {_shown(question)}; ask about the stored articles")
        if len(question) > limits.question_chars:
            raise QueryError(
                f"the question is {len(question):,} characters; the limit is {limits.question_chars:,} "
                "(NEWSRAG_MAX_QUESTION_CHARS); ask something shorter"
            )
        history = user_turns(raw.get("history"))
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
        k = raw.get("k")
        if k is None:
            k = default_k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50:
            raise QueryError(f"'k' must be an integer from 1 to 50, got {k!r}")
        filters = raw.get("filters")
        if isinstance(filters, BaseModel):
            filters = filters.model_dump(exclude_none=True)
        return cls(question.strip(), history, Filters.parse(filters, limits.filter_values), k)


_FIELDS = ("question", "history", "filters", "k")
#: Roles whose turns are the user's own questions (what a follow-up is restated from) ...
_USER_ROLES = {"human", "user"}
#: ... and roles that are accepted but not used.
_OTHER_ROLES = {"ai", "assistant", "system", "developer", "tool", "function"}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text_of(content: object) -> str | None:
    """A message's text: a string, or the text parts of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b if isinstance(b, str) else b.get("text") if isinstance(b, dict) else None for b in content]
        if all(isinstance(p, str) or p is None for p in parts):
            return "".join(p for p in parts if isinstance(p, str))
    return None


def _role_and_text(turn: object) -> tuple[object, object]:
    """A turn as (role, text): strings are the user's questions; messages, pairs and dicts name a role."""
    if isinstance(turn, str):
        return "human", turn
    if isinstance(turn, tuple | list) and len(turn) == 2:
        return turn[0], turn[1]
    if isinstance(turn, dict) and set(turn) == {"role", "content"}:
        return turn["role"], _text_of(turn["content"])
    if isinstance(turn, BaseModel) and hasattr(turn, "role") and hasattr(turn, "content") and not hasattr(turn, "type"):
        return turn.role, _text_of(turn.content)  # HistoryTurn
    kind = getattr(turn, "type", None)
    if isinstance(kind, str) and hasattr(turn, "content"):  # a LangChain message
        role = getattr(turn, "role", kind) if kind == "chat" else kind
        return role, _text_of(turn.content)
    return None, None


def user_turns(history: object) -> list[str]:
    """The user's questions in ``history``, oldest first. ``history`` holds strings (earlier user
    questions), LangChain messages, ``(role, text)`` pairs or ``{"role", "content"}`` dicts; turns of
    the assistant (or the system) are accepted and left out."""
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise QueryError(
            f"'history' must be a list of earlier turns, oldest first (strings, messages or (role, text) pairs), "
            f"got {type(history).__name__} {_shown(history)}"
        )
    out: list[str] = []
    for i, turn in enumerate(history):
        role, text = _role_and_text(turn)
        if role is None:
            raise QueryError(
                f"history[{i}] is {_shown(turn)}; a turn is a string, a LangChain message, a (role, text) pair "
                'or {"role": ..., "content": ...}'
            )
        if not isinstance(role, str) or role.lower() not in _USER_ROLES | _OTHER_ROLES:
            raise QueryError(f"history[{i}] has role {_shown(role)}; allowed: {', '.join(sorted(_USER_ROLES | _OTHER_ROLES))}")
        if not isinstance(text, str):
            raise QueryError(f"history[{i}] has content {_shown(text)}; the text of a turn must be a string")
        if role.lower() in _USER_ROLES and text.strip():
            out.append(text)
    return out


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
    #: what the question asks itself (``query`` without an earlier turn appended to widen the search)
    turn: str = ""
    #: the best candidate's relevance, before any preference for a named outlet or day: whether to answer
    relevance: float = 0.0
    #: the question as the learned scorer reads it, and its candidates' features (None without a scorer)
    context: Context | None = None
    features: np.ndarray | None = None
    #: why no section was found at all: no article is stored, or none meets the question's filters
    nothing_found: str | None = None
    #: a name the question uses that no stored article prints ("Veldhaven Cyclists' Federation")
    unmentioned: str | None = None
    #: why the passages cannot report the day the question names (all published before it), read before
    #: the chain preferred that day's articles
    unreported: str | None = None
    #: the passages the answer may quote by the hand scores, after any preference for an outlet or a day:
    #: what the support checks read (``rag.support``), also when a learned scorer re-scores the candidates
    quotable: list[Candidate] = field(default_factory=list)
    #: ``candidates`` and those of the sections retrieved for quotes only, best first (empty: none were)
    for_quotes: list[Candidate] = field(default_factory=list)
    #: those sections' chunk ids (they are listed in ``sections`` after the others)
    quote_only_sections: frozenset[str] = frozenset()
    #: what the question adapter adds to a sentence's score (by sentence id) when the quotes are chosen,
    #: after the decision to answer was made on the hand scores (``rag.adapter``; empty: no adapter)
    quote_shift: dict[str, float] = field(default_factory=dict)

    @property
    def decision_articles(self) -> dict[str, Article]:
        """The articles whether to answer is decided on: those of the ``k`` best sections (and of any
        sections pinned by the question), not those that only the quote-only sections brought."""
        if not self.quote_only_sections:
            return self.articles
        kept = {f.article_id for f in self.sections if f.chunk_id not in self.quote_only_sections}
        kept |= {c.record.article_id for c in self.candidates}
        only = {f.article_id for f in self.sections if f.chunk_id in self.quote_only_sections} - kept
        return {k: a for k, a in self.articles.items() if k not in only}

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
                for_quotes=f.chunk_id in self.quote_only_sections,
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
