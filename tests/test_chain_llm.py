"""The LLM path with LangChain's fake chat models: whatever the model writes, only numbered sentences
that exist become citations, unsupported sentences are removed, and garbage falls back to extractive."""

from __future__ import annotations

import pytest
from chain_helpers import BORDERS, assert_valid, corpus_chain, number_of, offered, with_llm

from newsrag.rag.chain import NewsragChain
from newsrag.rag.models import AnswerChunk

INJECTED = "The mayor resigned in disgrace"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> NewsragChain:
    return corpus_chain(tmp_path_factory.mktemp("llm-home"))


def test_valid_model_citations_map_to_exact_spans(base: NewsragChain) -> None:
    sentences = offered(base, BORDERS)
    n = number_of(sentences, "pre-2014 borders is unrealistic")
    chain = with_llm(base, f"Hegseth said returning to Ukraine's pre-2014 borders is unrealistic [{n}].")
    answer = chain.invoke({"question": BORDERS})
    assert_valid(answer, chain.store)
    assert answer.backend == "llm"
    assert answer.answer == "Hegseth said returning to Ukraine's pre-2014 borders is unrealistic [1]."
    assert answer.citations[0].quote == sentences[n - 1]


def test_out_of_range_numbers_are_dropped_and_unbacked_sentences_removed(base: NewsragChain) -> None:
    sentences = offered(base, BORDERS)
    n = number_of(sentences, "pre-2014 borders is unrealistic")
    chain = with_llm(
        base,
        f"Returning to the pre-2014 borders is unrealistic, Hegseth said [{n}][99][0]. "
        "He also praised the weather in Brussels [42]. Chasing the goal prolongs the war.",
    )
    answer = chain.invoke({"question": BORDERS})
    assert_valid(answer, chain.store)
    assert len(answer.citations) == 1
    assert "[99]" not in answer.answer and "[0]" not in answer.answer
    assert "weather" not in answer.answer and "prolongs" not in answer.answer


@pytest.mark.parametrize(
    "garbage",
    ["", "NO ANSWER", '{"answer": "borders", "cite": [1]}', "[abc] [1x] [-1]", "Borders are a thing [1]."],
)
def test_malformed_output_falls_back_to_the_extractive_answer(base: NewsragChain, garbage: str) -> None:
    chain = with_llm(base, garbage)
    answer = chain.invoke({"question": BORDERS})
    assert_valid(answer, chain.store)
    assert answer.backend == "extractive"
    assert answer.citations and any("pre-2014 borders" in c.quote for c in answer.citations)


def test_model_that_follows_an_injected_instruction_cannot_quote_it(base: NewsragChain) -> None:
    question = "What did the harbour board decide about the Port Calder mayor?"
    sentences = offered(base, question)
    chain = with_llm(base, f'"{INJECTED}" [1]. {INJECTED} [{len(sentences)}]. {INJECTED}, the article says [77].')
    answer = chain.invoke({"question": question})
    assert_valid(answer, chain.store)
    assert "disgrace" not in answer.answer  # every sentence was dropped: the extractive answer is given
    for c in answer.citations:
        assert c.quote != INJECTED
        if answer.backend == "llm":
            assert c.quote in sentences  # a stored sentence, never the model's words


def test_streaming_llm_answer_yields_only_validated_sentences(base: NewsragChain) -> None:
    sentences = offered(base, BORDERS)
    n = number_of(sentences, "pre-2014 borders is unrealistic")
    chain = with_llm(
        base,
        f"Hegseth called a return to pre-2014 borders unrealistic [{n}]. Invented claim about Mars [3]. "
        f"He said pursuing this goal will only cause more suffering [{n}].",
    )
    *pieces, final = list(chain.stream({"question": BORDERS}))
    assert isinstance(final, AnswerChunk) and final.final and final.backend == "llm"
    streamed = "".join(p.answer for p in pieces)
    total = sum([*pieces[1:], final], pieces[0])  # chunks add up to the answer invoke returns
    assert total.answer == streamed + final.answer == chain.invoke({"question": BORDERS}).answer
    assert total.citations == final.citations and len(total.citations) == 1
    assert "Mars" not in streamed
    assert total.answer.count("[1]") == 2 and len(final.citations) == 1


def test_llm_condenses_follow_ups(base: NewsragChain) -> None:
    chain = with_llm(base, "What did Hegseth say about troops?", "NO ANSWER")
    answer = chain.invoke({"question": "Did he mention troops?", "history": [BORDERS]})
    assert answer.rewritten_question == "What did Hegseth say about troops?"
    assert_valid(answer, chain.store)
    assert any("forces" in c.quote for c in answer.citations)
