"""A running ``newsrag serve`` and writers in other processes on one NEWSRAG_HOME (issue 11; see
docs/reliability.md): the server notices every change, answers right and never errors; two writers and
the server together for a bounded time end with the store one sequential run makes.

Loopback only (``newsrag.eval.servers``), the hash embedder (answers come from rare words in the
questions, found by the lexical half of retrieval).
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, NEWSRAG, newsrag_env
from test_reliability_store import assert_same_store
from test_sigkill import dump, make_corpus

from newsrag.eval.servers import running_server
from newsrag.rag.settings import BUNDLED_ARTICLES

pytestmark = [pytest.mark.server, pytest.mark.slow]

HASH = {"NEWSRAG_EMBEDDING_MODEL": "hash-384"}
BORDERS = "What did Hegseth say about Ukraine's pre-2014 borders?"
SEED_TITLE = "Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"
CUP = "Who scored the header in the Coastal Cup final?"
CUP_TITLE = "Late Salcott Header Hands Port Calder Gulls First Coastal Cup Since 2009"
CUP_ID = "cd3519ab7e6384d8"
FINE = "What fine did Velmora get for the Halo Tab?"
FINE_TITLE = "Velmora Unveils Halo Tab Days After Record Privacy Fine"
#: How long the stress test runs its two writers and its questions against the server.
STRESS_SECONDS = 45


def newsrag(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*NEWSRAG, *args],
        env=newsrag_env(home, **HASH),
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, proc.stdout, proc.stderr)
    return proc


def client_for(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def asker(client: Any) -> Callable[[str], dict[str, Any]]:
    def ask(question: str) -> dict[str, Any]:
        answer: dict[str, Any] = client.predict(question, api_name="/ask")
        return answer

    return ask


def cited_titles(answer: dict[str, Any]) -> set[str]:
    return {c["title"] for c in answer["citations"]}


def test_a_running_server_follows_ingest_delete_and_reindex_by_other_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_server(home, env=HASH) as server:
        client = client_for(server.url)
        ask = asker(client)
        assert SEED_TITLE in cited_titles(ask(BORDERS))
        assert not cited_titles(ask(CUP)) - {SEED_TITLE}

        newsrag(home, "ingest", str(CORPUS), "--no-progress", cwd=tmp_path)  # item 3: new articles answerable
        assert CUP_TITLE in cited_titles(ask(CUP))
        assert FINE_TITLE in cited_titles(ask(FINE))
        assert len(client.predict(api_name="/articles")) == 9

        newsrag(home, "delete", CUP_ID, cwd=tmp_path)  # item 2: every later question still answers
        assert CUP_TITLE not in cited_titles(ask(CUP))
        assert FINE_TITLE in cited_titles(ask(FINE))
        assert SEED_TITLE in cited_titles(ask(BORDERS))
        assert CUP_ID not in {a["id"] for a in client.predict(api_name="/articles")}

        newsrag(home, "reindex", cwd=tmp_path)  # new collections swapped in under the server
        assert FINE_TITLE in cited_titles(ask(FINE))
        assert SEED_TITLE in cited_titles(ask(BORDERS))
        newsrag(home, "ingest", str(CORPUS), "--no-progress", cwd=tmp_path)  # the deleted one comes back
        assert CUP_TITLE in cited_titles(ask(CUP))
        log = server.log()
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]


def test_two_writers_and_a_server_for_a_bounded_time_end_like_one_sequential_run(tmp_path: Path) -> None:
    """Two writers loop (ingest, delete some, ingest again; one also reindexes) while questions go to the
    server, for :data:`STRESS_SECONDS`; then both finish with a last ingest. No question errors, and the
    store equals one sequential run of the same inputs: counts, ids, documents, metadata, vectors."""
    corpus = tmp_path / "synthetic"
    make_corpus(corpus, n=60)
    folders = {"A": tmp_path / "A", "B": tmp_path / "B"}
    for folder in folders.values():
        folder.mkdir()
    for i, path in enumerate(sorted(corpus.iterdir())):
        path.rename(folders["A" if i % 2 else "B"] / path.name)
    home = tmp_path / "home"
    errors: list[str] = []
    counts = {"answers": 0, "A": 0, "B": 0}

    def writer(name: str, deadline: float, rng: random.Random) -> None:
        folder = folders[name]
        try:
            while time.monotonic() < deadline:
                newsrag(home, "ingest", str(folder), "--no-progress", cwd=tmp_path)
                ids = [a["id"] for a in _articles(home, tmp_path) if a["path"] and Path(a["path"]).parent == folder]
                if ids:
                    newsrag(home, "delete", *rng.sample(ids, min(3, len(ids))), cwd=tmp_path)
                if name == "B" and counts["B"] == 1:
                    newsrag(home, "reindex", cwd=tmp_path)
                counts[name] += 1
            newsrag(home, "ingest", str(folder), "--no-progress", cwd=tmp_path)
        except BaseException as e:  # reported by the main thread
            errors.append(f"writer {name}: {e}")

    def questions(url: str, deadline: float) -> None:
        ask = asker(client_for(url))
        qs = [BORDERS, "Which council approved the ferry plan?", "What did the harbour board delay?", "Story 7 rail"]
        while time.monotonic() < deadline:
            for q in qs:
                try:
                    answer = ask(q)
                    for c in answer["citations"]:
                        assert c["quote"] and c["start"] < c["end"], c
                    counts["answers"] += 1
                except Exception as e:
                    errors.append(f"question {q!r}: {type(e).__name__}: {e}")

    with running_server(home, env=HASH) as server:
        deadline = time.monotonic() + STRESS_SECONDS
        threads = [
            threading.Thread(target=writer, args=("A", deadline, random.Random(1))),
            threading.Thread(target=writer, args=("B", deadline, random.Random(2))),
            threading.Thread(target=questions, args=(server.url, deadline)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=900)
        log = server.log()
    print(f"stress: {counts['answers']} answers, writer loops A={counts['A']} B={counts['B']} in {STRESS_SECONDS} s")
    assert not errors, errors[:5]
    assert counts["answers"] > 0 and counts["A"] > 0 and counts["B"] > 1
    assert "Traceback" not in log, log[-3000:]

    sequential = tmp_path / "sequential"
    for folder in (BUNDLED_ARTICLES, folders["A"], folders["B"]):
        newsrag(sequential, "ingest", str(folder), "--no-progress", cwd=tmp_path)
    assert_same_store(dump(home, tmp_path), dump(sequential, tmp_path), 61)


def _articles(home: Path, cwd: Path) -> list[dict[str, Any]]:
    import json

    return list(json.loads(newsrag(home, "articles", "--json", cwd=cwd).stdout))
