"""The answering chain, a LangChain ``Runnable``: question (+ history, filters) in, :class:`Answer` out.

Steps: restate a follow-up → embed the question → hybrid section retrieval → score the sections'
sentences with their stored vectors → pick quotes → compose (extractive, or an LLM that cites numbered
sentences, validated) → Answer. Every citation is a span of a stored article, by construction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from rag.answertype import expected_type, satisfies
from rag.compose import abstention_text, citations_for, extractive_lines
from rag.embed import Embedder, make_embedder
from rag.errors import QueryError
from rag.lexical import LexicalIndex, lexical_index
from rag.models import Answer, Article, Citation, Retrieved
from rag.quote import Candidate, merge, score_sentences, select
from rag.records import sentence_id
from rag.retrieve import Filters, Fused, retrieve
from rag.rewrite import rewrite, unmentioned_topic
from rag.settings import Settings, get_settings
from rag.store import Store, make_store

__all__ = ["NewsragChain", "build_chain", "ChainInput", "Evidence"]

MAX_QUESTION_CHARS = 2000


@dataclass
class ChainInput:
    question: str
    history: list[str]
    filters: Filters
    k: int

    @classmethod
    def parse(cls, raw: Any, default_k: int) -> ChainInput:
        if isinstance(raw, str):
            raw = {"question": raw}
        if not isinstance(raw, dict):
            raise QueryError(f"chain input must be a dict with a 'question' (or a string), got {type(raw).__name__}")
        question = raw.get("question")
        if not isinstance(question, str) or not question.strip():
            raise QueryError("'question' must be a non-empty string")
        if len(question) > MAX_QUESTION_CHARS:
            raise QueryError(f"question is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}")
        history = raw.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            raise QueryError("'history' must be a list of earlier user questions (strings), oldest first")
        k = raw.get("k", default_k)
        if not isinstance(k, int) or not 1 <= k <= 50:
            raise QueryError(f"'k' must be an integer from 1 to 50, got {k!r}")
        return cls(question.strip(), history, Filters.parse(raw.get("filters")), k)


@dataclass
class Evidence:
    """Everything retrieval found for one question, before composing."""

    inp: ChainInput
    query: str
    sections: list[Fused]
    candidates: list[Candidate]
    articles: dict[str, Article]
    timings: dict[str, float]
    index: LexicalIndex

    @property
    def retrieved(self) -> list[Retrieved]:
        return [
            Retrieved(article_id=f.article_id, section=f.headline, section_index=f.section, title=f.title,
                      score=round(f.dense, 4))
            for f in self.sections
        ]


class NewsragChain(Runnable[Any, Answer]):
    """See the module docstring. ``stream`` yields ``str`` pieces of the answer, then the ``Answer``."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, llm: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.llm = llm

    @property
    def InputType(self) -> Any:  # noqa: N802 (LangChain's name)
        return dict

    @property
    def OutputType(self) -> Any:  # noqa: N802
        return Answer

    # -- steps -------------------------------------------------------------------------------------
    def index(self) -> LexicalIndex:
        return lexical_index(self.store, None if self.settings.chroma_url else self.settings.lexical_path)

    def gather(self, inp: ChainInput) -> Evidence:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query = rewrite(inp.question, inp.history) if not self.llm else self._condense(inp)
        t = time.perf_counter()
        qvec = np.asarray(self.embedder.encode([query])[0], dtype=np.float32)
        timings["embed_ms"] = (time.perf_counter() - t) * 1000
        index = self.index()
        sections = retrieve(self.store, index, qvec, query, inp.filters, inp.k, timings)
        t = time.perf_counter()
        articles = self.store.get_articles(sorted({f.article_id for f in sections}))
        ids = [
            sentence_id(f.article_id, s.index)
            for f in sections if f.article_id in articles
            for s in articles[f.article_id].sentences
            if s.section == f.section and int(f.meta["start"]) <= s.start < int(f.meta["end"])
        ]
        sentences = self.store.sentences_by_id(ids)
        headlines = {f.chunk_id: " ".join(x for x in (f.title, f.headline or "") if x) for f in sections}
        candidates = score_sentences(qvec, query, sentences, sections, index, headlines)
        timings["quotes_ms"] = (time.perf_counter() - t) * 1000
        timings["retrieve_total_ms"] = (time.perf_counter() - t0) * 1000
        return Evidence(inp, query, sections, candidates, articles, timings, index)

    def _condense(self, inp: ChainInput) -> str:
        from rag.llm import condense

        return condense(self.llm, inp.question, inp.history) if inp.history else inp.question

    def _answer(self, ev: Evidence, text: str, citations: list[Citation], abstained: bool, backend: str) -> Answer:
        return Answer(
            question=ev.inp.question, answer=text, abstained=abstained, citations=citations,
            retrieved=ev.retrieved, timings_ms={k: round(v, 2) for k, v in ev.timings.items()},
            rewritten_question=ev.query if ev.query != ev.inp.question else None, backend=backend,
        )

    def answerable(self, ev: Evidence) -> tuple[bool, str | None]:
        """Whether the evidence clears the calibrated bar; if not, an optional reason for the reader."""
        missing = unmentioned_topic(ev.query, ev.index)
        if missing:
            return False, f"none of them mentions “{missing}”"
        threshold = self.settings.abstain_threshold
        if not ev.candidates or ev.candidates[0].score < threshold:
            return False, None
        kind = expected_type(ev.inp.question)
        if kind and not any(satisfies(c.record.text, kind) for c in ev.candidates if c.score >= threshold):
            what = "an amount of money" if kind == "money" else "a number"
            return False, f"no relevant passage gives {what}"
        return True, None

    def _extractive(self, ev: Evidence) -> Iterator[str | Answer]:
        t = time.perf_counter()
        threshold = self.settings.abstain_threshold
        ok, reason = self.answerable(ev)
        if not ok:
            text = abstention_text(ev.retrieved, reason)
            ev.timings["compose_ms"] = (time.perf_counter() - t) * 1000
            yield text
            yield self._answer(ev, text, [], True, "extractive")
            return
        chosen = select(ev.candidates, self.settings.max_quotes, threshold)
        citations = citations_for(merge(chosen, ev.articles), ev.articles)
        parts = []
        for line in extractive_lines(citations):
            parts.append(line)
            yield line
        ev.timings["compose_ms"] = (time.perf_counter() - t) * 1000
        yield self._answer(ev, "".join(parts).strip(), citations, False, "extractive")

    def _run(self, raw: Any) -> Iterator[str | Answer]:
        inp = ChainInput.parse(raw, self.settings.top_k)
        ev = self.gather(inp)
        if self.llm is not None and self.answerable(ev)[0]:
            from rag.llm import llm_answer

            yield from llm_answer(self, ev)
            return
        yield from self._extractive(ev)

    # -- Runnable ----------------------------------------------------------------------------------
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return self._call_with_config(self._invoke, input, config)

    def _invoke(self, input: Any) -> Answer:
        *_, answer = self._run(input)
        assert isinstance(answer, Answer)
        return answer

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        yield from self._run(input)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return await asyncio.to_thread(self.invoke, input, config)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        iterator = self._run(input)
        done = object()
        while True:
            item = await asyncio.to_thread(next, iterator, done)
            if item is done:
                return
            yield item


def build_chain(
    settings: Settings | None = None, *, store: Store | None = None, embedder: Embedder | None = None, llm: Any = None
) -> NewsragChain:
    """The chain over the configured store. ``llm`` (a LangChain chat model) overrides NEWSRAG_ANSWERER."""
    settings = settings or get_settings()
    embedder = embedder or make_embedder(settings)
    store = store or make_store(settings, model=embedder.name)
    store.check()
    if llm is None and settings.answerer != "extractive":
        from rag.llm import make_llm

        llm = make_llm(settings)
    return NewsragChain(settings, store, embedder, llm)
