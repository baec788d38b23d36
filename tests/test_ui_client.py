"""The app as another program sees it: ``newsrag serve`` in a child process on 127.0.0.1, called through
``gradio_client`` by endpoint name. The first start ingests the bundled articles into an empty home."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import SEED

from newsrag.eval.servers import ServerProcess, running_server
from newsrag.rag.models import Answer

pytestmark = [pytest.mark.server, pytest.mark.slow]

QUESTION = "What did Hegseth say about borders?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("ui-client") / "home") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> object:
    from gradio_client import Client

    return Client(server.url, verbose=False)


def test_first_start_ingests_the_bundled_articles(server: ServerProcess, client: object) -> None:
    log = server.log()
    assert "is empty; ingesting the bundled articles" in log
    assert "added 1" in log
    listed = client.predict(api_name="/articles")  # type: ignore[attr-defined]
    assert [a["title"] for a in listed] == ["Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"]


def test_ask_returns_answer_json_with_exact_quotes(client: object) -> None:
    raw = client.predict(QUESTION, api_name="/ask")  # type: ignore[attr-defined]
    answer = Answer.model_validate(raw)
    assert answer.question == QUESTION and not answer.abstained
    border = [c for c in answer.citations if "pre-2014 borders" in c.quote]
    assert border, answer.answer
    for c in answer.citations:
        article = client.predict(c.article_id, api_name="/article")  # type: ignore[attr-defined]
        assert article["text"][c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.answer
    # the stored text is the file's text: the quote is verbatim from the bundled article
    assert border[0].quote in SEED.read_text(encoding="utf-8")
    assert border[0].title == "Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"


def test_ask_with_filters_and_history_by_keyword(client: object) -> None:
    later = client.predict(question=QUESTION, since="2026-01-01", api_name="/ask")  # type: ignore[attr-defined]
    assert later["abstained"] and later["citations"] == []
    elsewhere = client.predict(question=QUESTION, sources=["example.org"], api_name="/ask")  # type: ignore[attr-defined]
    assert elsewhere["abstained"] and elsewhere["citations"] == []
    inside = client.predict(  # type: ignore[attr-defined]
        question=QUESTION,
        since="2025-02-01",
        until="2025-02-28",
        sources=["sputnikglobe.com"],
        k=3,
        api_name="/ask",
    )
    assert not inside["abstained"] and inside["citations"]
    follow = client.predict(  # type: ignore[attr-defined]
        question="Did he say anything about troops?", history=[QUESTION], api_name="/ask"
    )
    assert follow["question"] == "Did he say anything about troops?"
    assert follow["rewritten_question"] and "Hegseth" in follow["rewritten_question"]


def test_bad_input_is_a_readable_error(client: object) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not a real YYYY-MM-DD date"):
        client.predict(question=QUESTION, since="last week", api_name="/ask")  # type: ignore[attr-defined]
    with pytest.raises(AppError, match="no article with id"):
        client.predict("no-such-id", api_name="/article")  # type: ignore[attr-defined]


def test_chat_callbacks_are_not_public_endpoints(client: object) -> None:
    info = client.view_api(print_info=False, return_format="dict")  # type: ignore[attr-defined]
    assert set(info["named_endpoints"]) == {"/ask", "/articles", "/article"}
    assert not info["unnamed_endpoints"]


def test_server_is_local_without_share_link(server: ServerProcess) -> None:
    log = server.log()
    assert f"serving 1 articles at {server.url} (chat at /, JSON API at {server.url}/api/ask" in log
    assert "gradio.live" not in log and "public URL" not in log
