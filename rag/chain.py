"""The answering chain, a LangChain ``Runnable``: question (+ history, filters) in, :class:`Answer` out.

Steps: restate a follow-up → embed the question → hybrid section retrieval → score the sections'
sentences with their stored vectors → pick quotes → compose (extractive, or an LLM that cites numbered
sentences, validated) → Answer. Every citation is a span of a stored article, by construction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from .embed import Embedder, make_embedder
from .evidence import ChainInput, Evidence, Limits
from .extractive import answerable, extractive_answer
from .lexical import LexicalIndex, lexical_index
from .models import Answer
from .quote import score_sentences
from .ranking import rank_candidates
from .records import sentence_article, sentence_id
from .retrieve import SENTENCE_DEPTH, nearest_sentences, retrieve
from .rewrite import rewrite
from .scorer import SCORER_PATH, Scorer, load_scorer
from .settings import Settings, get_settings
from .store import Store, make_store

__all__ = ["NewsragChain", "build_chain", "ChainInput", "Evidence"]


class NewsragChain(Runnable[Any, Answer]):
    """See the module docstring. ``stream`` yields ``str`` pieces of the answer, then the ``Answer``."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        llm: Any = None,
        scorer: Scorer | None = None,
        sentence_depth: int = SENTENCE_DEPTH,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.scorer = scorer
        #: sentences fetched by their own vectors beside those of the retrieved sections (0: none)
        self.sentence_depth = sentence_depth

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
        query = self._restate(inp)
        t = time.perf_counter()
        qvec = np.asarray(self.embedder.encode([query])[0], dtype=np.float32)
        timings["embed_ms"] = (time.perf_counter() - t) * 1000
        index = self.index()
        sections = retrieve(self.store, index, qvec, query, inp.filters, inp.k, timings)
        t = time.perf_counter()
        extra = nearest_sentences(self.store, qvec, self.sentence_depth, inp.filters) if self.sentence_depth else []
        wanted = {f.article_id for f in sections} | {sentence_article(sid) for sid in extra}
        articles = self.store.get_articles(sorted(wanted))
        ids = [
            sentence_id(f.article_id, s.index)
            for f in sections
            if f.article_id in articles
            for s in articles[f.article_id].sentences
            if s.section == f.section and int(f.meta["start"]) <= s.start < int(f.meta["end"])
        ]
        seen = set(ids)
        ids += [sid for sid in extra if sid not in seen and sentence_article(sid) in articles]
        sentences = self.store.sentences_by_id(ids)
        headlines = {f.chunk_id: " ".join(x for x in (f.title, f.headline or "") if x) for f in sections}
        candidates = score_sentences(qvec, query, sentences, sections, index, headlines)
        ev = Evidence(inp, query, sections, candidates, articles, timings, index)
        if self.scorer is not None:
            rank_candidates(ev, self.scorer)
        timings["quotes_ms"] = (time.perf_counter() - t) * 1000
        timings["retrieve_total_ms"] = (time.perf_counter() - t0) * 1000
        return ev

    def _restate(self, inp: ChainInput) -> str:
        if self.llm is not None and inp.history:
            from .llm import condense

            return condense(self.llm, inp.question, inp.history)
        return rewrite(inp.question, inp.history)

    def answerable(self, ev: Evidence) -> tuple[bool, str | None]:
        """Whether the evidence answers the question; if not, a reason for the reader."""
        return answerable(ev, self.settings.abstain_threshold, self.scorer)

    def _extractive(self, ev: Evidence) -> Iterator[str | Answer]:
        return extractive_answer(ev, self.settings.abstain_threshold, self.settings.max_quotes, self.scorer)

    def _run(self, raw: Any) -> Iterator[str | Answer]:
        inp = ChainInput.parse(raw, self.settings.top_k, Limits.of(self.settings))
        ev = self.gather(inp)
        if self.llm is not None and self.answerable(ev)[0]:
            from .llm import llm_answer

            yield from llm_answer(self.llm, ev, fallback=self._extractive)
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
        return await asyncio.to_thread(partial(self.invoke, input, config))

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
        from .llm import make_llm

        llm = make_llm(settings)
    scorer = load_scorer(SCORER_PATH) if settings.quote_scorer == "learned" else None
    return NewsragChain(settings, store, embedder, llm, scorer, SENTENCE_DEPTH if scorer else 0)
