"""Shared checks for tests that produce Answers: the citation invariant, stated once."""

from __future__ import annotations

import copy
import re
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from newsrag.ingest import ingest_paths
from newsrag.rag.chain import ChainInput, NewsragChain, build_chain
from newsrag.rag.llm import numbered
from newsrag.rag.models import Answer
from newsrag.rag.settings import BUNDLED_ARTICLES, Settings
from newsrag.rag.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
#: The seed, the fictional corpus and the prompt-injection article: what the chain tests ask over.
CHAIN_CORPUS = [BUNDLED_ARTICLES, FIXTURES / "corpus", FIXTURES / "formats" / "injection_article.txt"]
BORDERS = "What did Hegseth say about borders?"

MARKER = re.compile(r"\[(\d+)\]")


def assert_valid(answer: Answer, store: Store) -> None:
    """Every quote is the stored article text at [start, end); markers and citations match one to one."""
    articles = store.get_articles([c.article_id for c in answer.citations])
    for c in answer.citations:
        assert c.article_id in articles, f"citation [{c.n}] points to a missing article {c.article_id}"
        assert articles[c.article_id].text[c.start : c.end] == c.quote, f"citation [{c.n}] is not a stored span"
        assert c.quote.strip(), f"citation [{c.n}] is empty"
    markers = {int(m) for m in MARKER.findall(answer.answer)}
    assert markers == {c.n for c in answer.citations}, (markers, [c.n for c in answer.citations])
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    if answer.abstained:
        assert not answer.citations and not markers


def corpus_chain(home: Path, **settings: object) -> NewsragChain:
    """A chain over a fresh store at ``home`` holding :data:`CHAIN_CORPUS` (real bundled model)."""
    config = Settings(home=home, progress=False, **settings)  # type: ignore[arg-type]
    report = ingest_paths(CHAIN_CORPUS, config)
    assert report.ok and report.added == 10, report.summary()
    return build_chain(config)


def with_llm(base: NewsragChain, *responses: str) -> NewsragChain:
    """The base chain (same store, embedder and ranking) answering with a fake model."""
    chain = copy.copy(base)
    chain.llm = FakeListChatModel(responses=list(responses))
    return chain


def offered(chain: NewsragChain, question: str) -> list[str]:
    """The sentences the model is shown, numbered from 1, as the chain would number them."""
    ev = chain.gather(ChainInput.parse({"question": question}, chain.settings.top_k))
    return [c.record.text for c in numbered(ev)]


def number_of(sentences: list[str], needle: str) -> int:
    return next(i for i, s in enumerate(sentences, start=1) if needle in s)
