"""The plain JSON API beside the Gradio app (issue 10): ``POST /api/ask`` returns the Answer JSON, bad
input is a 422 whose ``detail`` names the value, ``/api/ask/stream`` sends NDJSON deltas then the answer,
the OpenAPI schema is typed, and the chat app keeps its theme and CSS when mounted in a FastAPI app.
Through FastAPI's TestClient over the app ``newsrag serve`` runs, and once over 127.0.0.1 against a real
``newsrag serve`` process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chain_helpers import BORDERS, assert_valid, corpus_chain
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsrag.eval.servers import running_server
from newsrag.rag.chain import NewsragChain
from newsrag.rag.models import Answer
from newsrag.ui.api import NDJSON
from newsrag.ui.app import mount
from newsrag.ui.style import CSS, theme

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> NewsragChain:
    return corpus_chain(tmp_path_factory.mktemp("json-api-home"))


@pytest.fixture(scope="module")
def client(chain: NewsragChain) -> Iterator[TestClient]:
    with TestClient(mount(FastAPI(), chain, chain.settings)) as c:  # what `newsrag serve` runs
        yield c


def ndjson(body: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_ask_returns_the_answer_json(client: TestClient, chain: NewsragChain) -> None:
    resp = client.post("/api/ask", json={"question": BORDERS})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    answer = Answer.model_validate(resp.json())
    assert_valid(answer, chain.store)
    assert any("pre-2014 borders" in c.quote for c in answer.citations)
    expected = chain.invoke({"question": BORDERS}).model_dump(mode="json", exclude={"timings_ms"})
    assert {k: v for k, v in resp.json().items() if k != "timings_ms"} == expected
    assert resp.json()["citations"][0]["date"] == "2025-02-12"


def test_ask_takes_history_filters_and_k(client: TestClient) -> None:
    follow = client.post(
        "/api/ask",
        json={"question": "Did he say anything about troops?", "history": [BORDERS], "filters": {"since": "2025-01-01"}, "k": 3},
    ).json()
    assert follow["rewritten_question"] and "Hegseth" in follow["rewritten_question"]
    later = client.post("/api/ask", json={"question": BORDERS, "filters": {"since": "2026-06-01"}}).json()
    assert later["abstained"] and later["citations"] == []
    pairs = client.post("/api/ask", json={"question": "Did he mention troops?", "history": [["user", BORDERS]]}).json()
    assert pairs["rewritten_question"] and "Hegseth" in pairs["rewritten_question"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"question": ""}, "question: String should have at least 1 character"),
        ({"question": "   "}, "'question' must be a non-empty string"),
        ({"question": "x" * 2001}, "the question is 2,001 characters; the limit is 2,000"),
        ({"question": "Q?", "filters": {"since": "2025-02-30"}}, "filters.since '2025-02-30' is not a real YYYY-MM-DD date"),
        ({"question": "Q?", "filters": {"since": "2026-04-01", "until": "2026-03-01"}}, "swap them"),
        ({"question": "Q?", "colour": "red"}, "unknown field 'colour'; allowed: question, history, filters, k"),
        ({"question": "Q?", "filters": {"when": "today"}}, "unknown field 'filters.when'"),
        ({"question": "Q?", "k": 0}, "k: Input should be greater than or equal to 1 (got 0)"),
        ({"question": "Q?", "history": [["wizard", "hi"]]}, r"history[0] has role 'wizard'"),
        ({"history": [BORDERS]}, "question is required"),
    ],
)
def test_bad_input_is_a_422_naming_the_value(client: TestClient, body: dict[str, Any], detail: str) -> None:
    for path in ("/api/ask", "/api/ask/stream"):
        resp = client.post(path, json=body)
        assert resp.status_code == 422, (path, resp.text)
        assert detail in resp.json()["detail"], resp.json()


def test_a_body_that_is_not_json_is_a_422(client: TestClient) -> None:
    resp = client.post("/api/ask", content=b"question=borders", headers={"content-type": "application/json"})
    assert resp.status_code == 422 and "not valid JSON" in resp.json()["detail"]


def test_stream_sends_deltas_then_the_answer(client: TestClient, chain: NewsragChain) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": BORDERS}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith(NDJSON)
        lines = ndjson(resp.read().decode("utf-8"))
    *deltas, last = lines
    assert len(deltas) >= 3 and {d["type"] for d in deltas} == {"delta"}
    assert last["type"] == "answer"
    answer = Answer.model_validate(last["answer"])
    assert "".join(d["text"] for d in deltas) == answer.answer == chain.invoke({"question": BORDERS}).answer
    assert_valid(answer, chain.store)


def test_openapi_schema_is_typed(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert set(spec["paths"]) == {"/ask", "/ask/stream"}
    ask = spec["paths"]["/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewsragInput"}
    assert ask["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Answer"}
    assert "422" in ask["responses"]
    schemas = spec["components"]["schemas"]
    assert {"NewsragInput", "QueryFilters", "HistoryTurn", "Answer", "Citation", "Retrieved"} <= set(schemas)
    assert all(p.get("description") for p in schemas["NewsragInput"]["properties"].values())
    assert schemas["Citation"]["properties"]["start"]["type"] == "integer"
    assert NDJSON in spec["paths"]["/ask/stream"]["post"]["responses"]["200"]["content"]


def test_mounted_app_keeps_its_theme_and_css(client: TestClient) -> None:
    config = client.get("/config").json()
    assert config["theme"] == theme().name != "default"
    assert CSS.strip() in config["css"]
    assert client.get("/").status_code == 200  # the chat page itself


@pytest.mark.server
@pytest.mark.slow
def test_real_server_answers_json_and_streams(tmp_path: Path) -> None:
    def post(url: str, body: object) -> tuple[int, str, str]:
        req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"}, method="POST")
        try:
            with _DIRECT.open(req, timeout=120) as resp:
                return resp.status, resp.headers["content-type"], resp.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.headers["content-type"], e.read().decode("utf-8")

    with running_server(tmp_path / "home") as server:
        status, kind, body = post(f"{server.url}/api/ask", {"question": BORDERS})
        assert status == 200 and kind == "application/json"
        answer = Answer.model_validate_json(body)
        assert any("pre-2014 borders" in c.quote for c in answer.citations)
        status, _, body = post(f"{server.url}/api/ask", {"question": BORDERS, "filters": {"until": "31/12/2025"}})
        assert status == 422 and "filters.until '31/12/2025' is not a real YYYY-MM-DD date" in json.loads(body)["detail"]
        status, kind, body = post(f"{server.url}/api/ask/stream", {"question": BORDERS})
        assert status == 200 and kind.startswith(NDJSON)
        *deltas, last = ndjson(body)
        assert "".join(d["text"] for d in deltas) == last["answer"]["answer"] == answer.answer
        with _DIRECT.open(f"{server.url}/config", timeout=30) as resp:
            assert CSS.strip() in json.loads(resp.read())["css"]
        assert "JSON API at" in server.log() and "Traceback" not in server.log()
