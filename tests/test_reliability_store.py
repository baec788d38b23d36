"""Many processes, one store (issue 11, items 1-3; docs/reliability.md).

Embedded Chroma keeps each process's vector index in memory. A reader that answered once holds that
index; another process then deletes, ingests or reindexes, and the reader must see the change: no
``TypeError`` on a deleted record, no ``Error finding id`` on a new one, no answer from a deleted article.
Two writers on one home are serialized by a lock and end with the store one sequential run makes.

The reader here is this test process (a chain over the store, as ``newsrag serve`` holds one); the writers
are real ``newsrag`` processes. The hash embedder keeps it fast: the questions name rare words, so the
lexical half of retrieval finds the article.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chain_helpers import assert_valid
from conftest import CORPUS, NEWSRAG, SEED, make_settings, newsrag_env
from test_sigkill import dump, make_corpus

from newsrag.ingest import ingest_paths
from newsrag.rag import vectors
from newsrag.rag.chain import NewsragChain, build_chain
from newsrag.rag.embed import HashEmbedder
from newsrag.rag.errors import StoreError
from newsrag.rag.store import make_store
from newsrag.rag.vectors import sentence_vectors

pytestmark = pytest.mark.slow

CUP = "Who scored the header in the Coastal Cup final?"
CUP_TITLE = "Late Salcott Header Hands Port Calder Gulls First Coastal Cup Since 2009"
CUP_ID = "cd3519ab7e6384d8"
FINE = "What fine did Velmora get for the Halo Tab?"
FINE_TITLE = "Velmora Unveils Halo Tab Days After Record Privacy Fine"


def newsrag(home: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``newsrag ARGS`` as another process on ``home`` (hash embedder)."""
    proc = subprocess.run(
        [*NEWSRAG, *args],
        env=newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384", **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def reader(tmp_path: Path) -> tuple[NewsragChain, Path]:
    """A chain over a store holding the fixture corpus; it has answered once, so its vector index is loaded."""
    home = tmp_path / "home"
    settings = make_settings(home, embedding_model="hash-384")
    assert ingest_paths([CORPUS], settings).added == 8
    chain = build_chain(settings)
    answer = chain.invoke(CUP)
    assert [c.title for c in answer.citations][:1] == [CUP_TITLE]
    return chain, home


def titles(answer: Any) -> set[str]:
    return {c.title for c in answer.citations}


def test_delete_by_another_process_leaves_the_reader_answering(reader: tuple[NewsragChain, Path], tmp_path: Path) -> None:
    """Item 2: ``newsrag delete`` while a server runs broke every later question (TypeError in hit_from)."""
    chain, home = reader
    assert newsrag(home, "delete", CUP_ID, cwd=tmp_path).returncode == 0
    for question in (FINE, CUP, "What did the rail union announce?"):
        answer = chain.invoke(question)  # used to raise TypeError: 'NoneType' object is not subscriptable
        assert_valid(answer, chain.store)
        assert CUP_TITLE not in titles(answer), f"{question!r} cites the deleted article"
    assert FINE_TITLE in titles(chain.invoke(FINE))
    assert CUP_ID not in {a.id for a in chain.store.list_articles()}
    vector = chain.embedder.encode([CUP])[0]
    assert not [i for i in chain.store.query_sentence_ids(vector, 80, None) if i.startswith(CUP_ID)]


def test_ingest_by_another_process_is_answerable_at_once(reader: tuple[NewsragChain, Path], tmp_path: Path) -> None:
    """Item 3: articles ingested while a server ran were listed but unanswerable (Error finding id)."""
    chain, home = reader
    assert newsrag(home, "ingest", str(SEED), "--no-progress", cwd=tmp_path).returncode == 0
    answer = chain.invoke("What did Hegseth say about Ukraine's pre-2014 borders?")
    assert_valid(answer, chain.store)
    assert not answer.abstained and any("pre-2014 borders" in c.quote for c in answer.citations), answer.answer
    assert CUP_TITLE in titles(chain.invoke(CUP))


def test_reindex_by_another_process_is_seen(reader: tuple[NewsragChain, Path], tmp_path: Path) -> None:
    """``newsrag reindex`` swaps in new collections; the reader follows them instead of failing."""
    chain, home = reader
    before = chain.store.articles.id, chain.store.generation()
    proc = newsrag(home, "reindex", cwd=tmp_path)
    assert proc.returncode == 0 and "re-embedded 8 articles" in proc.stdout, proc.stderr
    for question, title in ((CUP, CUP_TITLE), (FINE, FINE_TITLE)):
        answer = chain.invoke(question)
        assert_valid(answer, chain.store)
        assert title in titles(answer)
    after = chain.store.articles.id, chain.store.generation()
    assert after[0] != before[0] and after[1] > before[1], "a reindexed store is a new collection, a newer generation"


# -- writers --------------------------------------------------------------------------------------
def test_two_ingests_at_once_equal_one_sequential_run(tmp_path: Path) -> None:
    """Item 1: ``newsrag ingest A & newsrag ingest B`` on one home left 744 sentence vectors unreadable."""
    corpus = tmp_path / "synthetic"
    make_corpus(corpus, n=150)
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    b.mkdir()
    for i, path in enumerate(sorted(corpus.iterdir())):
        path.rename((a if i % 2 else b) / path.name)
    both, sequential = tmp_path / "both", tmp_path / "sequential"
    env = newsrag_env(both, NEWSRAG_EMBEDDING_MODEL="hash-384")
    procs = [
        subprocess.Popen(
            [*NEWSRAG, "ingest", str(folder), "--no-progress"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in (a, b)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, err
        assert out.strip().splitlines()[-1].startswith("added 75, updated 0, unchanged 0, failed 0;"), out
    for folder in (a, b):
        assert newsrag(sequential, "ingest", str(folder), "--no-progress", cwd=tmp_path).returncode == 0
    assert_same_store(dump(both, tmp_path), dump(sequential, tmp_path), 150)
    # and the store answers: every sentence vector can be read (it used to fail: Error getting embedding)
    ask = newsrag(both, "ask", "Which council approved the ferry plan?", "--json", cwd=tmp_path)
    assert ask.returncode == 0, ask.stderr
    assert any("waiting for another writer" in err for _, err in outs), "the second writer should have waited"


OPEN_AT_ONCE = """
import pathlib, sys, time
import chromadb  # noqa: F401  (imported before the start, as a running process has it)
from newsrag.rag.settings import get_settings
from newsrag.rag.store import make_store
settings = get_settings()
print("ready", flush=True)
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.0005)
make_store(settings, model="hash-384").check()
print("opened")
"""


def test_processes_opening_a_new_store_at_once_all_open_it(tmp_path: Path) -> None:
    """The first client of a new folder creates Chroma's tables; six processes opening one new home in the
    same millisecond failed with "table collections already exists" (CI: two ingests on a fresh home)."""
    for trial in range(4):
        env = newsrag_env(tmp_path / f"home{trial}", NEWSRAG_EMBEDDING_MODEL="hash-384")
        go = tmp_path / f"go{trial}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT_ONCE, str(go)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(6)
        ]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()  # all six imported and waiting: they open the store together
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and out.strip() == "opened", err[-2000:]


def assert_same_store(got: dict[str, Any], want: dict[str, Any], n_articles: int) -> None:
    """Same counts, ids, documents, metadata and vectors (digests), and the vector index answers."""
    assert not got["dirty"]
    for kind in ("articles", "sections", "sentences"):
        assert len(got[kind]) == len(want[kind]), f"{kind}: {len(got[kind])} records, expected {len(want[kind])}"
        assert set(got[kind]) == set(want[kind]), f"{kind}: different record ids"
        for i, (doc, meta, digest) in want[kind].items():
            meta = {k: v for k, v in meta.items() if k != "path"}
            got_meta = {k: v for k, v in got[kind][i][1].items() if k != "path"}
            assert (got[kind][i][0], got_meta, got[kind][i][2]) == (doc, meta, digest), f"{kind} {i} differs"
    assert len(got["articles"]) == n_articles
    assert got["query"][0] == got["probe"], "a stored vector must find its own record"


HOLD = r"""
import sys, time
from newsrag.rag.settings import Settings
from newsrag.rag.store import make_store
store = make_store(Settings(_env_file=None), model="hash-384")
with store.exclusive("test holder"):
    print("holding", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def test_a_second_writer_waits_then_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert newsrag(home, "ingest", str(CORPUS), "--no-progress", cwd=tmp_path).returncode == 0
    before = dump(home, tmp_path)
    env = newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "60"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        refused = newsrag(home, "ingest", str(SEED), "--no-progress", cwd=tmp_path, NEWSRAG_WRITE_LOCK_TIMEOUT="1")
        assert refused.returncode == 1
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        waiting = f"waiting for another writer of {home}: pid {holder.pid} (test holder), started "
        assert any(waiting in line for line in lines), lines
        assert lines[-1].startswith(f"Error: the store at {home} is being written by pid {holder.pid} (test holder), started ")
        assert lines[-1].endswith("Try again when it is done, or raise NEWSRAG_WRITE_LOCK_TIMEOUT."), lines[-1]
        delete = newsrag(home, "delete", CUP_ID, cwd=tmp_path, NEWSRAG_WRITE_LOCK_TIMEOUT="1")
        assert delete.returncode == 1 and "is being written" in delete.stderr
    finally:
        holder.kill()
        holder.wait()
    assert dump(home, tmp_path) == before, "a refused writer changed the store"
    # the lock dies with its holder (SIGKILL above): the next writer goes straight in
    assert newsrag(home, "ingest", str(SEED), "--no-progress", cwd=tmp_path).returncode == 0


def test_a_waiting_writer_goes_on_when_the_first_is_done(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "3"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        proc = newsrag(home, "ingest", str(CORPUS), "--no-progress", cwd=tmp_path)
    finally:
        holder.wait(timeout=60)
    assert proc.returncode == 0 and "waiting for another writer" in proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("added 8,")


def test_the_sentence_vector_copy_equals_the_store_and_follows_its_writes(
    tmp_path: Path, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rag.vectors: the memory-mapped copy gives exactly the stored vectors, is remade after a write, and
    a corrupt copy is remade with a warning; the chain answers from it without reading the sentence
    collection."""
    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    store = make_store(settings, model="hash-384")
    ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=store)
    # the ingest made both for the new version: the next question does not wait for them
    assert list(settings.lexical_path.glob("sentences-*.npy")) and list(settings.lexical_path.glob("bm25v2-*.pkl"))
    ids = list(store.sentences.get(include=[])["ids"])
    copy = sentence_vectors(store, settings.lexical_path)
    assert copy is not None and ids
    want = store.sentence_vectors(ids)
    got = copy.get(ids + ["no-such-article:s0", f"{CUP_ID}:s999"])
    assert set(got) == set(want) == set(ids)
    assert all(np.array_equal(got[i], want[i]) for i in ids)

    ingest_paths([SEED], settings, embedder=HashEmbedder(), store=store)  # a write: a new version
    ids2 = list(store.sentences.get(include=[])["ids"])
    fresh = sentence_vectors(store, settings.lexical_path)
    assert fresh is not None and fresh is not copy and len(fresh.get(ids2)) == len(ids2) > len(ids)

    vectors._CACHE.clear()
    for index_file in settings.lexical_path.glob("sentences-*.pkl"):
        index_file.write_bytes(b"not a pickle")
    with caplog.at_level("WARNING"):
        again = sentence_vectors(store, settings.lexical_path)
    assert again is not None and len(again.get(ids2)) == len(ids2)
    assert "ignoring sentence vector cache" in caplog.text

    vectors._CACHE.clear()
    for made in settings.lexical_path.glob("sentences-*"):
        made.unlink()
    monkeypatch.setattr(vectors, "MAX_SENTENCES", len(ids2) - 1)  # too big to copy: the store is asked
    assert sentence_vectors(store, settings.lexical_path) is None
    assert not list(settings.lexical_path.glob("sentences-*"))
    assert build_chain(settings, store=store, embedder=HashEmbedder()).invoke({"question": "Who scored the winner?"}).citations
    monkeypatch.undo()
    vectors._TOO_BIG.clear()

    def refuse(*args: Any) -> None:
        raise AssertionError("the chain read the sentence collection")

    chain = build_chain(settings, store=store, embedder=HashEmbedder())
    store.sentence_vectors = refuse  # type: ignore[method-assign, assignment]
    answer = chain.invoke({"question": "Who scored the winner in the Coastal Cup final?"})
    assert answer.citations and not answer.abstained, answer.answer


def test_an_ingest_whose_read_preparation_fails_still_stores_its_articles(
    tmp_path: Path, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(vectors, "sentence_vectors", broken)
    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    with caplog.at_level("WARNING"):
        report = ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=make_store(settings, model="hash-384"))
    assert report.ok and report.added == 8
    assert "were not prepared (disk full)" in caplog.text


def test_store_version_moves_with_every_write_in_process(tmp_path: Path) -> None:
    """The version readers key on changes on ingest and delete, and not on a no-op ingest."""
    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    store = make_store(settings, model="hash-384")
    v0 = store.version()
    ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=store)
    v1 = store.version()
    ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=store)
    assert store.version() == v1 != v0
    with store.writing("test"):
        store.delete([CUP_ID, CUP_ID])  # the same id twice: once, no DuplicateIDError
    assert store.version() != v1 and not store.is_dirty()


def test_the_vector_search_depth_is_set_on_new_stores_and_by_the_next_write_on_old_ones(tmp_path: Path) -> None:
    """hnsw_ef_search reaches Chroma: a new store is made with it, and a store made with another value
    (Chroma's default before the setting existed) takes it at its next write, not on a read."""

    def depths(store: Any) -> list[int]:
        return [store._collection(k).configuration["hnsw"]["ef_search"] for k in ("sections", "sentences")]

    old = make_settings(tmp_path / "home", embedding_model="hash-384", hnsw_ef_search=100)
    ingest_paths([CORPUS], old, embedder=HashEmbedder(), store=make_store(old, model="hash-384"))
    assert depths(make_store(old, model="hash-384")) == [100, 100]

    now = make_settings(tmp_path / "home", embedding_model="hash-384", hnsw_ef_search=300)
    reader = make_store(now, model="hash-384")
    reader.query_sections(HashEmbedder().encode(["borders"])[0], 3, None)
    assert depths(make_store(now, model="hash-384")) == [100, 100]
    ingest_paths([CORPUS], now, embedder=HashEmbedder(), store=reader)
    assert depths(make_store(now, model="hash-384")) == [300, 300]

    fresh = make_settings(tmp_path / "fresh", embedding_model="hash-384", hnsw_ef_search=250)
    ingest_paths([CORPUS], fresh, embedder=HashEmbedder(), store=make_store(fresh, model="hash-384"))
    assert depths(make_store(fresh, model="hash-384")) == [250, 250]


def test_the_write_lock_refuses_after_its_timeout_in_process(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", embedding_model="hash-384", write_lock_timeout=0.5)
    store = make_store(settings, model="hash-384")
    env = newsrag_env(settings.home, NEWSRAG_EMBEDDING_MODEL="hash-384")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "30"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        refusal = r"is being written by pid \d+ \(test holder\), started \d+ s ago; gave up after waiting 0 s"
        with pytest.raises(StoreError, match=refusal):  # while the holder holds
            ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=store)
    finally:
        holder.kill()
        holder.wait()
    assert store.count() == 0


def test_replaced_clients_are_stopped_so_a_long_running_reader_does_not_grow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each reopen loads another copy of the vector index; the replaced ones are stopped once no read can
    still be running on them (measured without the grace period: 60 reopens grew a small store's reader
    by 173 MB when replaced clients were left to the garbage collector, by 43 MB when stopped)."""
    from newsrag.rag import store as store_module

    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    ingest_paths([CORPUS], settings)
    store = make_store(settings, model="hash-384")
    monkeypatch.setattr(store_module._Handle, "RETIRE_AFTER", 0.0)
    stopped: list[Any] = []
    monkeypatch.setattr(store_module, "_stop", stopped.append)
    vector = HashEmbedder().encode([CUP])[0]
    systems = []
    for _ in range(5):
        systems.append(store.client._system)
        store.refresh()
        assert store.query_sections(vector, 3, None)
    # every replaced client is stopped at the next reopen after its grace period, the last one not yet
    assert stopped[-4:] == systems[:4] and systems[4] not in stopped


def test_retrieval_reads_only_the_sections_it_keeps_and_skips_one_deleted_since_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search returns ids and distances only; the k sections kept after fusion are read, and one that
    another process deleted between the search and the read is left out, the next best read instead."""
    from newsrag.rag.lexical import lexical_index
    from newsrag.rag.retrieve import Filters, retrieve

    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    ingest_paths([CORPUS], settings, embedder=HashEmbedder())
    store = make_store(settings, model="hash-384")
    index = lexical_index(store)
    vector = HashEmbedder().encode([FINE])[0]
    best = retrieve(store, index, vector, FINE, Filters(), 5)
    assert len(best) == 5 and best[0].title == FINE_TITLE and all(f.meta["start"] < f.meta["end"] for f in best)

    reads: list[list[str]] = []
    real = store.sections_by_id
    gone = best[1].chunk_id

    def sections_by_id(ids: Any) -> Any:
        reads.append(list(ids))
        return {cid: hit for cid, hit in real(ids).items() if cid != gone}

    monkeypatch.setattr(store, "sections_by_id", sections_by_id)
    kept = retrieve(store, index, vector, FINE, Filters(), 4)
    assert [f.chunk_id for f in kept] == [f.chunk_id for f in best if f.chunk_id != gone]
    assert [f.score for f in kept] == [f.score for f in best if f.chunk_id != gone]
    assert reads == [[f.chunk_id for f in best[:4]], [best[4].chunk_id]]


def test_the_first_question_of_a_store_version_loads_the_collections_while_it_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma loads a collection's whole index on the first read of it in a process. The chain has the
    collections a question reads loaded on the first question of each store version (and by ``warm``),
    while the question is embedded on another thread; later questions embed on their own thread and load
    nothing; an embedder's error on that first question reaches the caller unchanged."""
    import threading

    from newsrag.rag.errors import ConfigError

    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    store = make_store(settings, model="hash-384")
    ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=store)
    events: list[tuple[str, str]] = []

    class Recording(HashEmbedder):
        def encode(self, texts: list[str]) -> np.ndarray:
            events.append(("encode", threading.current_thread().name))
            return super().encode(texts)

    real_load = store.load

    def load(kinds: Any) -> None:
        events.append(("load " + " ".join(kinds), threading.current_thread().name))
        real_load(kinds)

    monkeypatch.setattr(store, "load", load)
    chain = build_chain(settings, store=store, embedder=Recording())
    assert chain.invoke(FINE).citations
    (encoded, other), (loaded, main) = sorted(events)
    assert (encoded, loaded) == ("encode", "load sections articles") and main == "MainThread" != other
    events.clear()
    assert chain.invoke(FINE).citations
    assert events == [("encode", "MainThread")]

    events.clear()  # another process writes: the store's version moves, and the collections load again
    ingest_paths([SEED], settings, embedder=HashEmbedder())
    assert chain.invoke(FINE).citations
    assert sorted(e for e, _ in events) == ["encode", "load sections articles"]

    events.clear()
    warmed = build_chain(settings, store=store, embedder=Recording())
    warmed.warm()
    assert sorted(e for e, _ in events) == ["encode", "load sections articles"]
    events.clear()
    assert warmed.invoke(FINE).citations
    assert events == [("encode", "MainThread")]

    class Broken(HashEmbedder):
        def encode(self, texts: list[str]) -> np.ndarray:
            raise ConfigError("the model cannot run here")

    with pytest.raises(ConfigError, match="the model cannot run here"):
        build_chain(settings, store=store, embedder=Broken()).invoke(FINE)


def test_the_article_list_is_read_again_only_when_the_store_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing the articles reads every article's metadata (2.2 s at 10,000 articles); the server lists
    them twice as it starts and on every refresh. A second listing of the same store version reads
    nothing; a write by another process is listed at once."""
    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    store = make_store(settings, model="hash-384")
    ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=store)
    reads: list[int] = []
    real = store._iter_articles

    def iter_articles() -> Any:
        reads.append(1)
        return real()

    monkeypatch.setattr(store, "_iter_articles", iter_articles)
    first = store.list_articles()
    title = first[0].title
    first[0].title = "changed by the caller"
    again = store.list_articles()
    again[0].title = "changed by the caller"
    assert len(reads) == 1 and store.list_articles()[0].title == title
    assert [a.id for a in again] == [a.id for a in first] and len(again) == store.count()

    ingest_paths([SEED], settings, embedder=HashEmbedder())  # another store object: another process's write
    after = store.list_articles()
    [new] = [a for a in after if a.id not in {b.id for b in first}]
    assert len(reads) == 2 and len(after) == len(first) + 1 and new.title.startswith("Pentagon Chief")


def test_a_lexical_cache_of_an_earlier_layout_is_rebuilt_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A BM25 cache written before the index kept its postings as arrays (a bm25s object inside, no
    ``format``) is never read as an empty index: under its old name it is removed when the new file is
    written, and under the current name it is rebuilt although the store version matches."""
    import pickle

    from newsrag.rag import lexical

    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    store = make_store(settings, model="hash-384")
    ingest_paths([CORPUS], settings, embedder=HashEmbedder(), store=store)
    [path] = settings.lexical_path.glob("bm25v2-*.pkl")
    old = pickle.loads(path.read_bytes())
    hits = old.search(FINE, 3)
    assert hits
    del old.__dict__["format"], old.__dict__["postings"]
    old.__dict__["retriever"] = None  # what an earlier layout held
    legacy = path.with_name(path.name.replace("bm25v2-", "bm25-"))
    legacy.write_bytes(pickle.dumps(old))
    path.write_bytes(pickle.dumps(old))
    monkeypatch.setattr(lexical, "_CACHE", {})
    index = lexical.lexical_index(store, settings.lexical_path)
    assert index.postings is not None and index.search(FINE, 3) == hits
    assert vars(pickle.loads(path.read_bytes()))["format"] == lexical.FORMAT and not legacy.exists()
