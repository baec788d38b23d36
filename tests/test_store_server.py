"""Server mode: a real ``chroma run`` started by the test, used through NEWSRAG_CHROMA_URL, behaves like
the embedded store (same records, idempotence, update, prune, get_article, model check).

Also here: the test guard against outbound connections, and the error for a server that is not up.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SEED, NetworkBlocked, make_settings

from newsrag.eval.servers import chroma_server, free_port
from newsrag.ingest import ingest_paths
from newsrag.ingest.parse import parse_file
from newsrag.rag.embed import HashEmbedder
from newsrag.rag.errors import ModelMismatchError, StoreError
from newsrag.rag.settings import Settings
from newsrag.rag.store import make_store

SEED_ID = "e44121d3b4a018c4"
KINDS = ("articles", "sections", "sentences")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on a free loopback port, with its data in a temporary folder."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as server:
        yield server.url


def server_settings(url: str, **overrides: Any) -> Settings:
    """Settings for the server, with a collection prefix of their own so tests do not see each other."""
    home = Path("/nonexistent-newsrag-home")  # server mode must not need a local store folder
    overrides.setdefault("collection", f"t{uuid.uuid4().hex[:12]}")
    return make_settings(home, chroma_url=url, **overrides)


def snapshot(store: Any) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    out = {}
    for kind in KINDS:
        got = getattr(store, kind).get(include=["documents", "metadatas"])
        recs = {}
        for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            meta = dict(meta)
            meta.pop("ingested", None)
            meta.pop("path", None)
            recs[i] = (doc, meta)
        out[kind] = recs
    return out


# -- the server -------------------------------------------------------------------------------------
@pytest.mark.server
@pytest.mark.slow
def test_server_store_matches_the_embedded_store(chroma_url: str, articles_dir: Path, settings: Settings, embedder: Any) -> None:
    remote = server_settings(chroma_url)
    report = ingest_paths([articles_dir], remote, embedder=embedder)
    assert (report.added, report.failed) == (9, 0)
    local_report = ingest_paths([articles_dir], settings, embedder=embedder)
    assert (report.sections, report.sentences) == (local_report.sections, local_report.sentences)
    store = make_store(remote, model=embedder.name)
    assert store.where == chroma_url
    assert (store.articles.count(), store.sections.count(), store.sentences.count()) == (
        9,
        report.sections,
        report.sentences,
    )
    assert snapshot(store) == snapshot(make_store(settings, model=embedder.name))
    assert not Path("/nonexistent-newsrag-home").exists()
    # the vectors answer a question the same way
    vec = embedder.encode(["Is the US prioritizing deterring a war with China in the Pacific?"])[0]
    assert store.query_sections(vec, 1, None)[0].chunk_id == f"{SEED_ID}:3:0"


@pytest.mark.server
def test_server_idempotence_update_prune_and_get_article(chroma_url: str, articles_dir: Path) -> None:
    remote, emb = server_settings(chroma_url), HashEmbedder()
    assert ingest_paths([articles_dir], remote, embedder=emb).added == 9
    store = make_store(remote, model=emb.name)
    generation, before = store.generation(), snapshot(store)

    again = ingest_paths([articles_dir], remote, embedder=emb)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 9)
    assert store.generation() == generation and snapshot(store) == before

    seed = store.get_article(SEED_ID)
    parsed = parse_file(articles_dir / SEED.name).articles[0]
    assert seed.text == parsed.text and seed.sections == parsed.sections and seed.sentences == parsed.sentences

    # update: a shorter seed replaces exactly its own records
    path = articles_dir / SEED.name
    raw = path.read_text(encoding="utf-8")
    path.write_text(raw[: raw.index("US Won't Tolerate")], encoding="utf-8")
    updated = ingest_paths([articles_dir], remote, embedder=emb)
    assert (updated.updated, updated.unchanged) == (1, 8)
    after = snapshot(store)
    new = parse_file(path).articles[0]
    assert {i for i in after["sentences"] if i.startswith(SEED_ID)} == {f"{SEED_ID}:s{k}" for k in range(len(new.sentences))}
    others = {k: {i: r for i, r in v.items() if not i.startswith(SEED_ID)} for k, v in after.items()}
    assert others == {k: {i: r for i, r in v.items() if not i.startswith(SEED_ID)} for k, v in before.items()}
    assert store.get_article(SEED_ID).text == new.text
    assert store.generation() == generation + 1

    # prune
    path.unlink()
    pruned = ingest_paths([articles_dir], remote, embedder=emb, prune=True)
    assert pruned.pruned == 1 and store.articles.count() == 8
    assert not [i for k in KINDS for i in snapshot(store)[k] if i.startswith(SEED_ID)]


@pytest.mark.server
def test_server_model_mismatch(chroma_url: str) -> None:
    remote = server_settings(chroma_url)
    assert ingest_paths([SEED], remote, embedder=HashEmbedder()).added == 1
    with pytest.raises(ModelMismatchError) as info:
        ingest_paths([SEED], remote, embedder=HashEmbedder(128))
    assert "NEWSRAG_EMBEDDING_MODEL='hash-384'" in str(info.value) and chroma_url in str(info.value)


@pytest.mark.server
def test_newsrag_cli_against_the_server(chroma_url: str, tmp_path: Path, cli_env: Any) -> None:
    from conftest import NEWSRAG

    env = cli_env(NEWSRAG_CHROMA_URL=chroma_url, NEWSRAG_COLLECTION=f"cli{uuid.uuid4().hex[:8]}")
    proc = subprocess.run(
        [*NEWSRAG, "ingest", str(SEED), "--no-progress"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("added 1, updated 0, unchanged 0, failed 0;")
    listed = subprocess.run([*NEWSRAG, "articles", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert [a["id"] for a in json.loads(listed.stdout)] == [SEED_ID]
    assert not (tmp_path / "home").exists(), "server mode wrote a local store"


@pytest.mark.server
@pytest.mark.slow
def test_concurrent_writers_through_the_server_end_like_one_sequential_run(chroma_url: str, tmp_path: Path, cli_env: Any) -> None:
    """Server mode has no local lock (the writers may be on other machines): two ``newsrag ingest`` runs
    of overlapping inputs at the same time still leave exactly the records of one run, because each
    article's records are written under deterministic ids, old ones cleared first, its marker last."""
    from conftest import NEWSRAG
    from test_sigkill import make_corpus

    corpus = tmp_path / "synthetic"
    make_corpus(corpus, n=40)
    both, one = f"both{uuid.uuid4().hex[:8]}", f"one{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen(
            [*NEWSRAG, "ingest", str(corpus), "--no-progress"],
            env=cli_env(NEWSRAG_CHROMA_URL=chroma_url, NEWSRAG_COLLECTION=both),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0 and "Traceback" not in err, err
    sequential = subprocess.run(
        [*NEWSRAG, "ingest", str(corpus), "--no-progress"],
        env=cli_env(NEWSRAG_CHROMA_URL=chroma_url, NEWSRAG_COLLECTION=one),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sequential.returncode == 0, sequential.stderr
    got = make_store(server_settings(chroma_url, collection=both), model="hash-384")
    want = make_store(server_settings(chroma_url, collection=one), model="hash-384")
    assert snapshot(got) == snapshot(want) and len(snapshot(got)["articles"]) == 40
    for kind in KINDS:
        a = getattr(got, kind).get(include=["embeddings"])
        b = getattr(want, kind).get(include=["embeddings"])
        vectors = dict(zip(b["ids"], b["embeddings"], strict=True))
        assert all(np.allclose(v, vectors[i], atol=1e-6) for i, v in zip(a["ids"], a["embeddings"], strict=True)), kind
    assert not got.is_dirty()


# -- no server --------------------------------------------------------------------------------------
def test_unreachable_server_is_a_store_error_with_a_hint() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError) as info:
        make_store(server_settings(url), model="hash-384")
    assert f"cannot open the Chroma store at {url}" in str(info.value)
    assert "NEWSRAG_CHROMA_URL" in str(info.value) and "chroma run" in str(info.value)


def test_outbound_connections_are_blocked_loopback_is_not() -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1, never routable
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect(("93.184.216.34", 443))
    with pytest.raises(urllib.error.URLError) as info:
        urllib.request.urlopen("http://example.com/", timeout=1)
    assert isinstance(info.value.reason, NetworkBlocked)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with socket.create_connection(("localhost", port), timeout=5):
            pass
