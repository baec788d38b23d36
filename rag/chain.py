"""The answering chain, a LangChain ``Runnable``: question (+ history, filters) in, :class:`Answer` out.

Steps: restate a follow-up → embed the question → hybrid section retrieval → score the sections'
sentences with their stored vectors → pick quotes → compose (extractive, or an LLM that cites numbered
sentences, validated) → Answer. Every citation is a span of a stored article, by construction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import run_in_executor

from .adapter import QuestionAdapter, adapter_for
from .dates import iso_date
from .embed import Embedder, make_embedder
from .evidence import ChainInput, Evidence, Limits
from .extractive import answerable, extractive_answer
from .features import spells_outlet
from .lexical import LexicalIndex, lexical_index
from .models import Answer, AnswerChunk, Article, NewsragInput
from .pins import EXTRA_SECTIONS, Pins
from .question import analyze, name_phrases, role_references
from .quote import Candidate, rank, score_sentences
from .ranking import rank_candidates
from .records import SentenceRecord, sentence_article, sentence_id
from .retrieve import QUOTE_SECTIONS, SENTENCE_DEPTH, Fused, nearest_sentences, retrieve, search_depth, unmatched
from .rewrite import restate
from .scorer import SCORER_PATH, Scorer, load_scorer
from .settings import Settings, get_settings
from .store import QUESTION_READS, Store, make_store
from .support import quotable
from .support import unreported as unreported_day
from .text import tokens
from .vectors import sentence_vectors

if TYPE_CHECKING:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import AIMessage
    from langchain_core.runnables.history import RunnableWithMessageHistory
    from langchain_core.tools import BaseTool

__all__ = ["NewsragChain", "build_chain", "ChainInput", "Evidence", "answer_message", "TOOL_DESCRIPTION"]

log = logging.getLogger(__name__)

#: Sections the lexical index offers for a name that the retrieved articles do not print.
NAME_SECTIONS = 10

TOOL_DESCRIPTION = (
    "Answer a question from the stored news articles. Returns JSON: 'answer' (text with markers [1], [2] ...), "
    "'abstained' (true when the articles do not answer) and 'citations', each an exact quote with its "
    "article's title, url, date, source and character offsets. Give 'history' (earlier user questions) to "
    "resolve a follow-up, 'filters' (since/until YYYY-MM-DD, sources) to restrict the articles."
)


class NewsragChain(Runnable[Any, Answer]):
    """See the module docstring. The input is a :class:`NewsragInput`, a dict of its fields, or a
    string (the question). ``invoke`` returns an :class:`Answer`; ``stream`` yields
    :class:`AnswerChunk` pieces that add up (``+``) to it: text deltas, then a last chunk with the
    citations. Both run through LangChain's callbacks, so tracing sees the chain and the model it calls."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        llm: Any = None,
        scorer: Scorer | None = None,
        sentence_depth: int = SENTENCE_DEPTH,
        quote_sections: int = 0,
        adapter: QuestionAdapter | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.scorer = scorer
        #: sentences fetched by their own vectors beside those of the retrieved sections (0: none)
        self.sentence_depth = sentence_depth
        #: sections retrieved after the ``k`` best for quotes only: whether to answer is read without them
        self.quote_sections = quote_sections
        #: reorders the quotes of an answer, never whether it answers (``rag.adapter``; None: hand scores only)
        self.adapter = adapter
        #: the store version whose collections were last loaded ahead of a question's reads
        self._loaded: tuple[str, int, str] | None = None

    @property
    def InputType(self) -> type[NewsragInput]:  # noqa: N802 (LangChain's name)
        return NewsragInput

    @property
    def OutputType(self) -> type[Answer]:  # noqa: N802
        return Answer

    # -- steps -------------------------------------------------------------------------------------
    def index(self, version: tuple[str, int, str] | None = None) -> LexicalIndex:
        """The lexical index of the store's current ``version`` (read from the store when not given)."""
        return lexical_index(self.store, self.settings.cache_path, version)

    def parse(self, raw: Any) -> ChainInput:
        """The checked input (a :class:`QueryError` names any bad value)."""
        return ChainInput.parse(raw, self.settings.top_k, Limits.of(self.settings))

    def gather(self, inp: ChainInput, config: RunnableConfig | None = None) -> Evidence:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query, turn = self._restate(inp, config)
        version = self.store.version()  # read once a question: any process's write shows here (docs/reliability.md)
        t = time.perf_counter()
        vectors = self._embed([query] if turn == query else [query, turn], version)
        qvec = vectors[0]
        timings["embed_ms"] = (time.perf_counter() - t) * 1000
        index = self.index(version)
        # one fusion, cut at k: the k best are the same sections as without the quote-only ones after them
        found = retrieve(
            self.store, index, qvec, query, inp.filters, inp.k + self.quote_sections, timings, depth=search_depth(inp.k)
        )
        sections, later = found[: inp.k], found[inp.k :]
        t = time.perf_counter()
        dates = [d for d in (iso_date(f.meta.get("date"), "stored date") for f in sections) if d]
        pins = Pins.read(turn, index.source_set, max(dates) if dates else None)
        have = {f.chunk_id for f in sections}
        for pinned in pins.searches(inp.filters):
            sections += _unseen(retrieve(self.store, index, qvec, query, pinned, EXTRA_SECTIONS), have)
        if self.scorer is None:  # the learned scorer quotes from its own candidates, and ranks by section rank
            for pinned in pins.quote_searches(inp.filters):
                later += retrieve(self.store, index, qvec, query, pinned, EXTRA_SECTIONS)
        for_quotes = _unseen(later, have)
        read = sections + for_quotes  # every section whose sentences are scored, the quote-only ones last
        timings["pins_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        extra = nearest_sentences(self.store, qvec, self.sentence_depth, inp.filters) if self.sentence_depth else []
        wanted = {f.article_id for f in read} | {sentence_article(sid) for sid in extra}
        articles = self.store.get_articles(sorted(wanted))
        sentences = self._section_sentences(read, articles, version)
        seen = {r.id for r in sentences}
        sentences += self.store.sentences_by_id([sid for sid in extra if sid not in seen and sentence_article(sid) in articles])
        every = self._score(qvec, vectors, query, turn, sentences, read, index)
        shift = self._shift(vectors if turn != query else vectors[:1], sentences)
        quote_only = {f.chunk_id for f in for_quotes}
        candidates = [c for c in every if c.record.chunk_id not in quote_only]
        # whether to answer is read from relevance alone, before any preference for an outlet or a day
        relevance = candidates[0].score if candidates else 0.0
        unreported = unreported_day(pins.days, candidates, articles, self.settings.abstain_threshold)
        # on the scale of the decision's candidates, so that they score as they would without the others
        pins.prefer(every, articles, scale=candidates)
        rank(candidates)
        # by the hand scores, before a learned scorer re-scores the candidates: its own quotes are fewer
        pool = quotable(candidates, self.settings.abstain_threshold)
        ev = Evidence(
            inp,
            query,
            read,
            candidates,
            articles,
            timings,
            index,
            turn=turn,
            relevance=relevance,
            unreported=unreported,
            quotable=pool,
            for_quotes=every if for_quotes else [],
            quote_only_sections=frozenset(quote_only),
            quote_shift=shift,
        )
        if not read:  # not a weak match: nothing to match (an empty store, or filters that no article meets)
            ev.nothing_found = unmatched(inp.filters, self.store.list_articles())
        ev.unmentioned = self._unmentioned(query, ev.decision_articles, index)
        if self.scorer is not None:
            rank_candidates(ev, self.scorer)
        timings["quotes_ms"] = (time.perf_counter() - t) * 1000
        timings["retrieve_total_ms"] = (time.perf_counter() - t0) * 1000
        return ev

    def _embed(self, texts: list[str], version: tuple[str, int, str]) -> np.ndarray:
        """The texts' vectors. On the first question of a store version, Chroma loads the collections the
        question reads meanwhile (:meth:`Store.load`): the ONNX session and Chroma's read both run outside
        the GIL, so the first question at 10,000 articles waits for the longer of the two, not their sum."""
        if version == self._loaded:
            return np.asarray(self.embedder.encode(texts), dtype=np.float32)
        kinds = [*QUESTION_READS, "sentences"] if self.sentence_depth else QUESTION_READS
        with ThreadPoolExecutor(1, thread_name_prefix="newsrag-embed") as pool:
            embedding = pool.submit(self.embedder.encode, texts)
            self.store.load(kinds)
            vectors = np.asarray(embedding.result(), dtype=np.float32)
        self._loaded = version
        return vectors

    def warm(self) -> None:
        """Load everything a question reads (the embedder's one-question session, the store's collections,
        the lexical index, the sentence vector copy) by gathering the evidence of one question, so that
        the first reader does not wait for it."""
        self.gather(self.parse("warm up the question path"))

    def _score(
        self,
        qvec: np.ndarray,
        vectors: np.ndarray,
        query: str,
        turn: str,
        sentences: list[SentenceRecord],
        sections: list[Fused],
        index: LexicalIndex,
    ) -> list[Candidate]:
        """The sentences as quote candidates, best first. A follow-up searched beside its earlier turn
        (``turn != query``): what it asks now weighs as much as the topic."""
        headlines = {f.chunk_id: f.heading for f in sections}
        candidates = score_sentences(qvec, query, sentences, sections, index, headlines)
        if turn != query:
            own = {c.record.id: c.score for c in score_sentences(vectors[1], turn, sentences, sections, index, headlines)}
            for c in candidates:
                c.score = (c.score + own[c.record.id]) / 2
            rank(candidates)
        return candidates

    def _shift(self, vectors: np.ndarray, sentences: list[SentenceRecord]) -> dict[str, float]:
        """What the question adapter adds to each sentence's score for quote selection (empty without one)."""
        if self.adapter is None or not sentences:
            return {}
        gains = self.adapter.shifts(vectors, np.vstack([s.vector for s in sentences]).astype(np.float32))
        return {s.id: float(g) for s, g in zip(sentences, gains, strict=True)}

    def _section_sentences(
        self, sections: list[Fused], articles: dict[str, Article], version: tuple[str, int, str]
    ) -> list[SentenceRecord]:
        """The sentences of the retrieved sections: spans and text from their articles, vectors from the
        memory-mapped copy of the stored ones (``rag.vectors``; from the store itself behind a Chroma
        server)."""
        spans = [
            (sentence_id(f.article_id, s.index), f.chunk_id, articles[f.article_id], s)
            for f in sections
            if f.article_id in articles
            for s in articles[f.article_id].sentences
            if s.section == f.section and int(f.meta["start"]) <= s.start < int(f.meta["end"])
        ]
        ids = [sid for sid, *_ in spans]
        cache = sentence_vectors(self.store, self.settings.cache_path, version)
        vectors = cache.get(ids) if cache is not None else self.store.sentence_vectors(ids)
        return [
            SentenceRecord(sid, a.id, chunk_id, s.section, s.index, s.start, s.end, a.text[s.start : s.end], vectors[sid])
            for sid, chunk_id, a, s in spans
            if sid in vectors
        ]

    def _unmentioned(self, query: str, articles: dict[str, Article], index: LexicalIndex) -> str | None:
        """The first name of two words or more in ``query`` that no stored article prints: not the
        retrieved ones, and not the sections that the lexical index finds for the name's words (a word
        the corpus never uses settles it at once). Outlets are named by their domain, not in text. Then,
        looked for the same way, the first person the question names by a role that no article prints
        beside its owner ("Ostrelia's defence minister": :class:`~newsrag.rag.question.RoleReference`)."""
        texts = [_plain(f"{a.title}\n{a.text}") for a in articles.values()]
        for name in name_phrases(analyze(query)):
            if any(spells_outlet(name, source) for source in index.source_set):
                continue
            plain = _plain(name)

            def prints(text: str, plain: str = plain) -> bool:
                return plain in text

            if any(prints(t) for t in texts):
                continue
            if all(index.known(t) for t in tokens(name)) and self._in_sections(prints, name, index):
                continue
            return name
        for ref in role_references(query):
            if any(spells_outlet(ref.owner, source) for source in index.source_set):
                continue  # "the Arvendal Post's editor": outlets are named by their domain
            if any(ref.mentioned_in(t) for t in texts) or self._in_sections(ref.mentioned_in, ref.search, index):
                continue
            return ref.phrase
        return None

    def _in_sections(self, found: Callable[[str], bool], words: str, index: LexicalIndex) -> bool:
        """Whether ``found`` holds for one of the sections the lexical index finds for ``words`` (their
        text as :func:`_plain` prints it): a name or role beyond the retrieved articles."""
        hits = self.store.sections_by_id([cid for cid, _ in index.search(words, NAME_SECTIONS)])
        return any(found(_plain(h.text)) for h in hits.values())

    def _restate(self, inp: ChainInput, config: RunnableConfig | None = None) -> tuple[str, str]:
        """(what to search for, what the question asks itself): see :func:`rewrite.restate`."""
        if self.llm is not None and inp.history:
            from .llm import condense

            condensed = condense(self.llm, inp.question, inp.history, config)
            return condensed, condensed
        return restate(inp.question, inp.history)

    def answerable(self, ev: Evidence) -> tuple[bool, str | None]:
        """Whether the evidence answers the question; if not, a reason for the reader."""
        return answerable(ev, self.settings.abstain_threshold, self.scorer)

    def _extractive(self, ev: Evidence) -> Iterator[str | Answer]:
        s = self.settings
        budget = s.max_quote_chars
        if budget is None:
            budget = self.scorer.max_chars if self.scorer else 0
        return extractive_answer(ev, s.abstain_threshold, s.max_quotes, self.scorer, budget)

    def quotes(self, raw: Any) -> Answer:
        """The extractive answer (never the LLM): the quotes the chain chooses, or an abstention.
        :class:`~newsrag.rag.retriever.NewsragRetriever` turns its citations into Documents."""
        *_, answer = self._extractive(self.gather(self.parse(raw)))
        assert isinstance(answer, Answer)
        return answer

    def _run(self, raw: Any, config: RunnableConfig | None = None) -> Iterator[str | Answer]:
        ev = self.gather(self.parse(raw), config)
        if self.llm is not None and self.answerable(ev)[0]:
            from .llm import llm_answer

            yield from llm_answer(self.llm, ev, fallback=self._extractive, config=config)
            return
        yield from self._extractive(ev)

    def _chunks(self, raw: Any, config: RunnableConfig | None = None) -> Generator[AnswerChunk, None, None]:
        """The answer as addable chunks whose text adds up to exactly ``Answer.answer``: leading white
        space is dropped and trailing white space held back until more text follows (the answerers
        stream lines; the answer is their text stripped)."""
        sent = pending = ""
        for item in self._run(raw, config):
            if isinstance(item, Answer):
                if item.answer.startswith(sent):
                    rest = item.answer[len(sent) :]
                else:  # an answerer streamed text its answer does not start with: the Answer wins
                    log.warning("streamed text differs from the answer of %r; the final chunk carries the answer", item.question)
                    rest = ""
                yield AnswerChunk.model_validate({**item.model_dump(), "answer": rest, "final": True})
                return
            piece = item if sent else item.lstrip()
            body = piece.rstrip()
            if not body:
                pending += piece
                continue
            delta, pending = pending + body, piece[len(body) :]
            sent += delta
            yield AnswerChunk(answer=delta)

    # -- Runnable ----------------------------------------------------------------------------------
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return self._call_with_config(self._invoke, input, config, **kwargs)

    def _invoke(self, input: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig) -> Answer:
        return self._answer(input, config)

    def _answer(self, input: Any, config: RunnableConfig) -> Answer:
        *_, answer = self._run(input, config)
        assert isinstance(answer, Answer)
        return answer

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return await self._acall_with_config(self._ainvoke, input, config, **kwargs)

    async def _ainvoke(self, input: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig) -> Answer:
        return await run_in_executor(config, self._answer, input, config)

    def transform(self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[AnswerChunk]:
        for chunk in self._transform_stream_with_config(input, self._transform, config, **kwargs):
            yield cast(AnswerChunk, chunk)

    def _transform(
        self, inputs: Iterator[Any], run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Iterator[AnswerChunk]:
        yield from self._chunks(_added(inputs), config)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[AnswerChunk]:
        yield from self.transform(iter([input]), config, **kwargs)

    async def atransform(
        self, input: AsyncIterator[Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AnswerChunk]:
        async for chunk in self._atransform_stream_with_config(input, self._atransform, config, **kwargs):
            yield cast(AnswerChunk, chunk)

    async def _atransform(
        self, inputs: AsyncIterator[Any], run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> AsyncIterator[AnswerChunk]:
        items = [x async for x in inputs]
        # the chain's steps are synchronous (Chroma, numpy, a sync model call): each runs in a worker thread
        iterator = self._chunks(_added(iter(items)), config)
        done = AnswerChunk()
        try:
            while True:
                chunk = await run_in_executor(config, next, iterator, done)
                if chunk is done:
                    return
                yield chunk
        finally:
            iterator.close()

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[AnswerChunk]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for chunk in self.atransform(one(), config, **kwargs):
            yield chunk

    # -- LangChain conveniences ---------------------------------------------------------------------
    def as_tool(
        self,
        args_schema: Any = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: dict[str, type] | None = None,
    ) -> BaseTool:
        """A tool whose parameters are :class:`NewsragInput`'s fields and whose result is the
        ``Answer`` as JSON (``model_dump(mode="json")``), which a model can read."""
        import warnings

        from langchain_core._api import LangChainBetaWarning
        from langchain_core.runnables import RunnableLambda

        as_json = self | RunnableLambda(_answer_json, name="answer_json")
        with warnings.catch_warnings():  # LangChain marks Runnable.as_tool as beta; newsrag's tool is tested
            warnings.simplefilter("ignore", LangChainBetaWarning)
            return as_json.as_tool(
                args_schema, name=name or "newsrag", description=description or TOOL_DESCRIPTION, arg_types=arg_types
            )

    def with_message_history(
        self, get_session_history: Callable[..., BaseChatMessageHistory], **kwargs: Any
    ) -> RunnableWithMessageHistory:
        """This chain under ``RunnableWithMessageHistory``: the session's messages are the ``history``
        (its user turns restate a follow-up), the question and the answer text are added to it. The
        output is ``{"answer": Answer, "message": AIMessage}``; ``kwargs`` go to the wrapper."""
        from langchain_core.runnables import RunnableLambda, RunnablePassthrough
        from langchain_core.runnables.history import RunnableWithMessageHistory

        with_message = self | {"answer": RunnablePassthrough(), "message": RunnableLambda(answer_message)}
        options: dict[str, Any] = {
            "input_messages_key": "question",
            "history_messages_key": "history",
            "output_messages_key": "message",
            **kwargs,
        }
        return RunnableWithMessageHistory(with_message, get_session_history, **options)


def _plain(text: str) -> str:
    """Text compared as printed: lower case, one kind of apostrophe."""
    return text.replace("’", "'").lower()


def _added(inputs: Iterator[Any]) -> Any:
    """The input of a ``transform``: its chunks added up (a dict streamed by an earlier step arrives in
    parts), or the last one when they do not add."""
    value: Any = None
    for item in inputs:
        try:
            value = item if value is None else value + item
        except TypeError:
            value = item
    return value


def _answer_json(answer: Answer) -> dict[str, Any]:
    result: dict[str, Any] = answer.model_dump(mode="json", exclude={"final"})
    return result


def answer_message(answer: Answer) -> AIMessage:
    """The answer as a chat message for a message history: its text (with markers), and the citations
    as JSON in ``response_metadata["citations"]``."""
    from langchain_core.messages import AIMessage

    citations = [c.model_dump(mode="json") for c in answer.citations]
    return AIMessage(content=answer.answer, response_metadata={"citations": citations, "abstained": answer.abstained})


def _unseen(found: list[Fused], have: set[str]) -> list[Fused]:
    """The sections of ``found`` whose chunk is not in ``have`` yet (added to it), in order."""
    new = [f for f in found if f.chunk_id not in have]
    have.update(f.chunk_id for f in new)
    return new


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
    # the learned scorer ranks its candidates itself
    adapter = adapter_for(embedder.name) if settings.question_adapter and scorer is None else None
    return NewsragChain(
        settings, store, embedder, llm, scorer, SENTENCE_DEPTH if scorer else 0, 0 if scorer else QUOTE_SECTIONS, adapter
    )
