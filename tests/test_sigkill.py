"""Kill ``newsrag ingest`` with SIGKILL half way (twice), finish with a normal run, and compare with a
store that got one uninterrupted run: same records, no duplicates, no orphans, vectors intact.

The kill points are found by reading record counts from Chroma's SQLite file (read-only) while the ingest
writes; markers are committed 32 articles at a time (``ingest/pipeline.py`` WRITE_BATCH). The first kill
hits the real command right after a batch; the second slows the writes down so that it lands inside a
batch, between an article's sections and its marker.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import NEWSRAG, newsrag_env

pytestmark = pytest.mark.slow

N_ARTICLES = 200

WORDS = {
    "noun": "council harbour ferry budget union mayor court port market board agency trial company rail fleet".split(),
    "verb": "approved delayed announced rejected reviewed funded criticised extended doubled postponed".split(),
    "adj": "regional local annual new early late public private coastal northern".split(),
    "Title": "Council Harbour Ferry Budget Union Mayor Court Port Market Board Agency Trial Rail Fleet Talks".split(),
    "Verb": "Approves Delays Rejects Reviews Funds Extends Doubles Postpones Backs Weighs".split(),
}


def sentence(rng: random.Random) -> str:
    w = {k: rng.choice(v) for k, v in WORDS.items()}
    return (
        f"The {w['adj']} {w['noun']} {w['verb']} the {rng.choice(WORDS['noun'])} plan on "
        f"{rng.choice(['Monday', 'Tuesday', 'Friday'])}, officials said, after {rng.randint(2, 90)} days of talks."
    )


def headline(rng: random.Random) -> str:
    return f"{rng.choice(WORDS['Title'])} {rng.choice(WORDS['Verb'])} {rng.choice(WORDS['Title'])} Plan"


def make_corpus(folder: Path, n: int = N_ARTICLES, seed: int = 20250212) -> None:
    """n articles in the seed's format: header, title, a lead, then sections with glued headlines."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for k in range(n):
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        parts = [" ".join(sentence(rng) for _ in range(rng.randint(2, 4)))]
        body = parts[0]
        for _ in range(rng.randint(1, 4)):
            body += headline(rng) + " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
        text = (
            f" date 2025-{month:02d}-{day:02d} https://synthetic.example/2025/{month:02d}/{day:02d}/story-{k}\n\n"
            f"{headline(rng)} in Story {k}\n\n{body}\n"
        )
        (folder / f"{k:03d}_story.txt").write_text(text, encoding="utf-8")


def marker_count(home: Path, collection: str = "newsrag_articles") -> int:
    """Records committed so far (article markers by default), read straight from Chroma's SQLite file
    (read-only); -1 while the file is locked."""
    db = home / "chroma" / "chroma.sqlite3"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            row = con.execute(
                "SELECT count(e.id) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = 'METADATA'",
                (collection,),
            ).fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:  # locked by the writer, or tables not created yet
        return -1
    return int(row[0]) if row else 0


DUMP = r"""
import hashlib, json, sys
import numpy as np
from newsrag.rag.settings import Settings
from newsrag.rag.store import make_store
store = make_store(Settings(_env_file=None), model="hash-384")
out = {"dirty": store.is_dirty()}
vectors = {}
for kind in ("articles", "sections", "sentences"):
    got = getattr(store, kind).get(include=["documents", "metadatas", "embeddings"])
    recs = {}
    for i, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
        meta = dict(meta)
        meta.pop("ingested", None)
        digest = hashlib.sha1(np.round(np.asarray(vec, dtype=np.float64), 5).tobytes()).hexdigest()
        recs[i] = [doc, meta, digest]
        if kind == "sections":
            vectors[i] = np.asarray(vec, dtype=np.float32)
    out[kind] = recs
if vectors:
    probe = min(vectors)
    hits = store.query_sections(vectors[probe], 10, None)
    out["probe"] = probe
    out["query"] = [h.chunk_id for h in hits]
    out["sentences_for"] = len(store.sentences_for([probe]))
json.dump(out, sys.stdout)
"""


def dump(home: Path, cwd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", DUMP],
        env=newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384"),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# ``newsrag ingest`` with every Chroma write followed by a pause, so that a kill can land between the
# writes of one batch (children vs. article markers) instead of only between batches.
SLOW_WRITES = r"""
import sys, time
from newsrag.rag.store import Store
_upsert = Store._upsert
def slow_upsert(self, *args, **kwargs):
    _upsert(self, *args, **kwargs)
    time.sleep(0.4)
Store._upsert = slow_upsert
from newsrag.ui.cli import cli
cli(sys.argv[1:], prog_name="newsrag")
"""


def ingest_cmd(folder: Path, slow_writes: bool = False) -> list[str]:
    head = [sys.executable, "-c", SLOW_WRITES] if slow_writes else NEWSRAG
    return [*head, "ingest", str(folder), "--no-progress"]


def wait_unlocked(home: Path, collection: str = "newsrag_articles") -> int:
    count = marker_count(home, collection)
    while count < 0:  # locked by a writer that is still flushing; the killed one holds no lock for long
        time.sleep(0.05)
        count = marker_count(home, collection)
    return count


def kill_when(folder: Path, home: Path, cwd: Path, *, slow_writes: bool, ready: Any) -> None:
    """Run an ingest and SIGKILL it as soon as ``ready()`` is true; fail if it finishes first."""
    env = newsrag_env(home, NEWSRAG_EMBEDDING_MODEL="hash-384")
    proc = subprocess.Popen(ingest_cmd(folder, slow_writes), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"ingest finished (rc {proc.returncode}) before it could be killed:\n{out!r}\n{err!r}")
            if ready():
                os.kill(proc.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                pytest.fail("the ingest wrote nothing within 240 s")
            time.sleep(0.002)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the ingest was not killed (rc {proc.returncode})"


def orphans(state: dict[str, Any]) -> set[str]:
    """Article ids that have section or sentence records but no article marker."""
    children = {m["article_id"] for kind in ("sections", "sentences") for _, m, _ in state[kind].values()}
    return children - set(state["articles"])


def test_sigkill_half_way_then_resume_equals_one_clean_run(tmp_path: Path) -> None:
    folder = tmp_path / "synthetic"
    make_corpus(folder)
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"

    # the reference: one uninterrupted run
    clean = subprocess.run(
        ingest_cmd(folder),
        env=newsrag_env(clean_home, NEWSRAG_EMBEDDING_MODEL="hash-384"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip().splitlines()[-1].startswith(f"added {N_ARTICLES}, updated 0, unchanged 0, failed 0;")

    # kill 1: the real command, as soon as its first batch of article markers is committed
    kill_when(folder, killed_home, tmp_path, slow_writes=False, ready=lambda: marker_count(killed_home) > 0)
    first = wait_unlocked(killed_home)
    assert 0 < first < N_ARTICLES, f"kill 1 did not land mid-run: {first} of {N_ARTICLES} markers"

    # kill 2: inside a batch, at the first record this run writes (with pauses between the writes);
    # the run may first sweep records left by kill 1, so "writes" means: above the lowest count seen
    lowest = [wait_unlocked(killed_home, "newsrag_sections")]

    def first_write() -> bool:
        if marker_count(killed_home) > first:
            return True
        now = marker_count(killed_home, "newsrag_sections")
        if now < 0:
            return False
        lowest[0] = min(lowest[0], now)
        return now > lowest[0]

    kill_when(folder, killed_home, tmp_path, slow_writes=True, ready=first_write)
    state = dump(killed_home, tmp_path)
    floor = len(state["articles"])
    assert first <= floor < N_ARTICLES, f"kill 2 did not land mid-run: {floor} of {N_ARTICLES} markers"
    assert state["dirty"], "a killed ingest must leave the store marked dirty"
    assert orphans(state), "kill 2 should leave a half-written batch: sections without their article markers"
    for aid, (_, meta, _) in state["articles"].items():
        n_sec = sum(1 for _, m, _ in state["sections"].values() if m["article_id"] == aid)
        assert n_sec == meta["n_sections"], f"article {aid} is marked written but has {n_sec} section records"

    # the next run finishes the job: only the missing articles are added
    resumed = subprocess.run(
        ingest_cmd(folder),
        env=newsrag_env(killed_home, NEWSRAG_EMBEDDING_MODEL="hash-384"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (
        resumed.stdout.strip().splitlines()[-1].startswith(f"added {N_ARTICLES - floor}, updated 0, unchanged {floor}, failed 0;")
    )

    got, want = dump(killed_home, tmp_path), dump(clean_home, tmp_path)
    assert not got["dirty"] and not want["dirty"]
    for kind in ("articles", "sections", "sentences"):
        assert len(got[kind]) == len(want[kind]), f"{kind}: {len(got[kind])} records, expected {len(want[kind])}"
        assert set(got[kind]) == set(want[kind]), f"{kind}: different record ids"
        for i, (doc, meta, digest) in want[kind].items():
            assert got[kind][i][0] == doc and got[kind][i][1] == meta, f"{kind} {i} differs"
            assert got[kind][i][2] == digest, f"{kind} {i}: vector differs"
    assert len(got["articles"]) == N_ARTICLES

    # no duplicates: one record per (article, span); no orphans: every child has its article
    sections = set(got["sections"])
    spans = [(m["article_id"], m["start"], m["end"]) for _, m, _ in got["sentences"].values()]
    assert len(spans) == len(set(spans))
    assert not orphans(got), f"records without an article: {sorted(orphans(got))[:5]}"
    assert all(m["chunk_id"] in sections for _, m, _ in got["sentences"].values())
    for aid, (_, meta, _) in got["articles"].items():
        n_sec = sum(1 for _, m, _ in got["sections"].values() if m["article_id"] == aid)
        n_sen = sum(1 for _, m, _ in got["sentences"].values() if m["article_id"] == aid)
        assert (n_sec, n_sen) == (meta["n_sections"], meta["n_sentences"]), aid
    # the vector index answers, with records that exist
    assert len(got["query"]) == 10 and set(got["query"]) <= sections
    assert got["query"][0] == got["probe"] == want["query"][0], "a stored vector must find its own record"
    assert got["sentences_for"] == want["sentences_for"] > 0
