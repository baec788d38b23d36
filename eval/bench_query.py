"""Warm query latency of the default chain, and the wall time of a cold ``newsrag ask``.

``python -m newsrag.eval.bench_query --n 1000 --n 10000 --queries 200``: for each N, a store of N synthetic
articles (:mod:`eval.synth`) in embedded Chroma; then ``rag.chain.build_chain(settings)`` answers
questions drawn from the corpus vocabulary, after a warm-up, and the p50/p95 of the total and of each
step (``Answer.timings_ms``) are reported; then ``newsrag ask`` runs in fresh processes on the built store.

Passes per N: the default chain; the same with ``torch.set_num_threads(1)``; both again while ``--busy``
other processes busy-loop (contention is what a shared 2-core machine sees, and it hits multi-threaded
torch hard); and the median cost of each single store/model call behind one question (``diagnose``).

How the stores are built:

* N <= ``--real-limit`` (default 1000): ``ingest_paths`` with the real bundled model, as a user would.
* larger N: embedding 10,000 articles with the real model takes over an hour on a 2-core machine, so
  the first ``--real-limit`` articles are copied record for record from the real store of that size, and
  every further article ``i`` (real synthetic text, parsed and chunked by the real code, written by
  ``Store.write``) borrows the real-model vectors of article ``i mod real-limit``, position by position,
  with a small random perturbation so that no two vectors are identical. Texts, ids, metadata, counts and
  the BM25 index are exactly what a real ingest writes; only the vectors of those articles are borrowed.

Stores are kept under ``--cache`` (default: a temporary folder) and reused when they are complete.
``--profile FILE`` writes a cProfile of a separate pass at the largest N. The "Query latency"
section of docs/benchmarks.md is replaced unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .bench_ingest import DOCS, machine, peak_rss_mb, write_doc_section

__all__ = ["build_store", "measure", "cold_ask", "main"]

STEPS = ("embed_ms", "dense_ms", "lexical_ms", "quotes_ms", "compose_ms", "retrieve_total_ms")
GOAL_P50_MS, GOAL_P95_MS = 60.0, 150.0
WARMUP = 20


def _settings(home: Path, backend: str | None = None) -> Any:
    from ..rag.settings import BUNDLED_MODEL, Settings

    settings = Settings(home=home, embedding_model=BUNDLED_MODEL, progress=False, chroma_url=None, answerer="extractive")
    return settings.model_copy(update={"embedding_backend": backend}) if backend else settings


def _complete(home: Path, n: int) -> bool:
    """True when the store at ``home`` holds exactly n articles and no half-finished write."""
    if not (home / "chroma").exists():
        return False
    from ..rag.store import make_store

    store = make_store(_settings(home))
    store.check()
    return store.count() == n and not store.is_dirty()


def _copy_records(src: Any, dst: Any, page: int = 2000) -> None:
    """Copy every record of the source store's three collections into the destination store."""
    for kind in ("sections", "sentences", "articles"):
        s_col, d_col = getattr(src, kind), getattr(dst, kind)
        offset = 0
        while True:
            got = s_col.get(include=["embeddings", "documents", "metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                break
            d_col.upsert(
                ids=got["ids"],
                embeddings=np.asarray(got["embeddings"], dtype=np.float32),
                documents=got["documents"],
                metadatas=got["metadatas"],
            )
            offset += len(got["ids"])


def _bank(store: Any, ids: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """article id -> (chunk vectors in chunk order, sentence vectors in sentence order), from a real store."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(0, len(ids), 100):
        part = ids[i : i + 100]
        secs = store.sections.get(where={"article_id": {"$in": part}}, include=["embeddings", "metadatas"])
        sens = store.sentences.get(where={"article_id": {"$in": part}}, include=["embeddings", "metadatas"])
        for aid in part:
            sec = sorted(
                (int(m["section"]), int(m["part"]), np.asarray(v, dtype=np.float32))
                for m, v in zip(secs["metadatas"], secs["embeddings"], strict=True)
                if m["article_id"] == aid
            )
            sen = sorted(
                (int(m["sentence"]), np.asarray(v, dtype=np.float32))
                for m, v in zip(sens["metadatas"], sens["embeddings"], strict=True)
                if m["article_id"] == aid
            )
            out[aid] = (np.vstack([v for *_, v in sec]), np.vstack([v for _, v in sen]))
    return out


def _borrow(vectors: np.ndarray, count: int, rng: np.random.Generator, scale: float = 0.15) -> np.ndarray:
    """``count`` unit vectors: the bank's, cycled by position, each nudged by a random unit vector * scale."""
    picked = vectors[np.arange(count) % len(vectors)]
    noise = rng.standard_normal(picked.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    out = picked + scale * noise
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def build_store(n: int, cache: Path, seed: int, real_limit: int) -> tuple[Path, str, float, bool]:
    """The home folder of a complete N-article store, how it was built, the build seconds (0 if unknown),
    and whether it was reused from the cache rather than built now."""
    folder = cache / f"n{n}-seed{seed}"
    home = folder / "home"
    if _complete(home, n):
        print(f"[N={n}] reusing the complete store in {home}", flush=True)
        try:
            info = json.loads((folder / "build.json").read_text(encoding="utf-8"))
            return home, str(info["method"]), float(info["seconds"]), True
        except (OSError, ValueError, KeyError):
            method = "real model (ingest_paths)" if n <= real_limit else "unknown"
            return home, method, 0.0, True
    home, method, seconds = _build(n, cache, seed, real_limit)
    (folder / "build.json").write_text(json.dumps({"method": method, "seconds": seconds}), encoding="utf-8")
    return home, method, seconds, False


def _build(n: int, cache: Path, seed: int, real_limit: int) -> tuple[Path, str, float]:
    from ..ingest.chunk import make_chunks
    from ..ingest.parse import parse_file
    from ..ingest.pipeline import WRITE_BATCH, ingest_paths
    from ..rag.store import ArticleWrite, make_store
    from .synth import write_corpus

    folder = cache / f"n{n}-seed{seed}"
    home = folder / "home"
    method = "real model (ingest_paths)" if n <= real_limit else f"first {real_limit} real, rest borrowed vectors"
    if home.exists():
        shutil.rmtree(home)
    t0 = time.perf_counter()
    files = write_corpus(folder / "articles", n, seed)
    settings = _settings(home)
    if n <= real_limit:
        print(f"[N={n}] ingesting {n} articles with the real model ...", flush=True)
        report = ingest_paths(files, settings, progress=False)
        if report.added != n:
            raise RuntimeError(f"ingest of {n} articles: {report.summary()}; {report.errors[:3]}")
        return home, method, time.perf_counter() - t0

    bank_home, *_ = build_store(real_limit, cache, seed, real_limit)
    bank_store = make_store(_settings(bank_home))
    store = make_store(settings)
    store.check()
    store.set_dirty(True)
    print(f"[N={n}] copying the {real_limit} real articles ...", flush=True)
    _copy_records(bank_store, store)
    bank_ids = [parse_file(f).articles[0].id for f in files[:real_limit]]
    bank = _bank(bank_store, bank_ids)
    rng = np.random.default_rng(seed)
    print(f"[N={n}] writing {n - real_limit} articles with borrowed vectors ...", flush=True)
    rest = files[real_limit:]
    for start in range(0, len(rest), WRITE_BATCH):
        writes = []
        for k, path in enumerate(rest[start : start + WRITE_BATCH]):
            article = parse_file(path).articles[0]
            chunks = make_chunks(article, settings.chunk_chars)
            sec_bank, sen_bank = bank[bank_ids[(real_limit + start + k) % real_limit]]
            writes.append(
                ArticleWrite(article, chunks, _borrow(sec_bank, len(chunks), rng), _borrow(sen_bank, len(article.sentences), rng))
            )
        store.write(writes)
        if (start // WRITE_BATCH) % 50 == 0:
            print(f"[N={n}]   {real_limit + start + len(writes)} articles stored", flush=True)
    store.set_dirty(False)
    if store.count() != n:
        raise RuntimeError(f"store holds {store.count()} articles, expected {n}")
    return home, method, time.perf_counter() - t0


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def measure(
    home: Path,
    n: int,
    n_queries: int,
    seed: int,
    profile: Path | None = None,
    threads: int | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Warm latency of ``build_chain(settings).invoke`` over questions from the corpus vocabulary;
    ``threads`` runs it with that many torch threads instead of the default; ``backend`` picks the
    embedding backend (default: the settings' default)."""
    import torch

    default_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _measure(home, n, n_queries, seed, profile, backend) | {"threads": torch.get_num_threads()}
    finally:
        torch.set_num_threads(default_threads)


def _measure(home: Path, n: int, n_queries: int, seed: int, profile: Path | None, backend: str | None = None) -> dict[str, Any]:
    from ..rag.chain import build_chain
    from .synth import questions

    chain = build_chain(_settings(home, backend))
    load_start = os.getloadavg()
    t = time.perf_counter()
    for q in questions(n, WARMUP, seed, draw=1):  # loads the model, builds or loads the BM25 index
        chain.invoke({"question": q})
    warmup_s = time.perf_counter() - t
    qs = questions(n, n_queries, seed, draw=0)
    totals: list[float] = []
    steps: dict[str, list[float]] = {s: [] for s in STEPS}
    abstained = 0
    for q in qs:
        t = time.perf_counter()
        answer = chain.invoke({"question": q})
        totals.append((time.perf_counter() - t) * 1000)
        abstained += answer.abstained
        for s in STEPS:
            steps[s].append(float(answer.timings_ms.get(s, 0.0)))
    if profile:  # a separate pass: the profiler's overhead stays out of the numbers above
        profiler = cProfile.Profile()
        profiler.enable()
        for q in qs:
            chain.invoke({"question": q})
        profiler.disable()
        profiler.dump_stats(str(profile))
    other_retrieve = [
        r - e - d - lx - qt
        for r, e, d, lx, qt in zip(
            steps["retrieve_total_ms"], steps["embed_ms"], steps["dense_ms"], steps["lexical_ms"], steps["quotes_ms"], strict=True
        )
    ]
    outside = [t - r - c for t, r, c in zip(totals, steps["retrieve_total_ms"], steps["compose_ms"], strict=True)]
    rows = {"total": totals, **steps, "retrieve_other_ms": other_retrieve, "outside_ms": outside}
    store = chain.store
    return {
        "n": n,
        "queries": n_queries,
        "warmup_s": warmup_s,
        "abstained": abstained,
        "sections": store.sections.count(),
        "sentences": store.sentences.count(),
        "p50": {k: _pct(v, 50) for k, v in rows.items()},
        "p95": {k: _pct(v, 95) for k, v in rows.items()},
        "mean": {k: statistics.fmean(v) for k, v in rows.items()},
        "max_total": max(totals),
        "peak_rss_mb": peak_rss_mb(),
        "load": (load_start, os.getloadavg()),
    }


@contextlib.contextmanager
def busy_processes(n: int) -> Iterator[None]:
    """``n`` other processes, each spinning on a core, while the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _median_ms(fn: Any, args: list[Any]) -> float:
    times = []
    for a in args:
        t = time.perf_counter()
        fn(a)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _sentence_ids(sections: list[Any], articles: dict[str, Any]) -> list[str]:
    """The proposed replacement for the ``chunk_id $in`` filter: sentence ids from the article spans."""
    ids = []
    for f in sections:
        article = articles.get(f.article_id)
        if article is None:
            continue
        start, end = int(f.meta["start"]), int(f.meta["end"])
        ids += [f"{f.article_id}:s{s.index}" for s in article.sentences if s.section == f.section and start <= s.start < end]
    return ids


def diagnose(home: Path, n: int, seed: int, reps: int = 40) -> dict[str, float]:
    """Median cost of each store and model call behind one question, and of alternatives."""
    import torch

    from ..rag.chain import ChainInput, build_chain
    from .synth import questions

    chain = build_chain(_settings(home))
    store = chain.store
    qs = questions(n, reps, seed, draw=4)
    evs = [chain.gather(ChainInput.parse(q, chain.settings.top_k)) for q in qs]
    vecs = [np.asarray(chain.embedder.encode([q])[0], dtype=np.float32) for q in qs]
    chunk_ids = [[f.chunk_id for f in ev.sections] for ev in evs]
    art_ids = [sorted({f.article_id for f in ev.sections}) for ev in evs]
    for ev, ids in zip(evs, art_ids, strict=True):  # the proposal finds exactly the same sentences
        expected = sorted(r.id for r in store.sentences_for([f.chunk_id for f in ev.sections]))
        if sorted(_sentence_ids(ev.sections, store.get_articles(ids))) != expected:
            raise AssertionError("sentence ids from article spans differ from the chunk_id filter")

    def by_ids(i: int) -> None:
        articles = store.get_articles(art_ids[i])
        ids = _sentence_ids(evs[i].sections, articles)
        if hasattr(store, "sentences_by_id"):
            store.sentences_by_id(ids)
        else:
            store.sentences.get(ids=ids, include=["metadatas", "documents", "embeddings"])

    idx = list(range(reps))
    default_threads = torch.get_num_threads()
    out = {
        f"encode 1 question, torch {default_threads} threads": _median_ms(lambda i: chain.embedder.encode([qs[i]]), idx),
    }
    torch.set_num_threads(1)
    try:
        out["encode 1 question, torch 1 thread"] = _median_ms(lambda i: chain.embedder.encode([qs[i]]), idx)
    finally:
        torch.set_num_threads(default_threads)
    out |= {
        "Store.version() (one get_collection; the chain reads it once a question)": _median_ms(lambda i: store.version(), idx),
        "sections.query, 20 ids + distances (the chain's search)": _median_ms(
            lambda i: store.nearest_sections(vecs[i], 20, None), idx
        ),
        "sections.query, 20 results with documents + metadatas (the search before 2026-12-07)": _median_ms(
            lambda i: store.sections.query(
                query_embeddings=[vecs[i]], n_results=20, include=["metadatas", "distances", "documents"]
            ),
            idx,
        ),
        "sections_by_id(a question's 5-7 sections): the sections retrieval keeps": _median_ms(
            lambda i: store.sections_by_id(chunk_ids[i]), idx
        ),
        "sentences by filter: sentences_for (where chunk_id $in 5 ids)": _median_ms(
            lambda i: store.sentences_for(chunk_ids[i]), idx
        ),
        "get_articles(<= 5 ids)": _median_ms(lambda i: store.get_articles(art_ids[i]), idx),
        "sentences by id: get_articles + sentences_by_id (ids from spans)": _median_ms(by_ids, idx),
        "sentences by id, vectors only: get_articles + sentence_vectors (the chain's path)": _median_ms(
            lambda i: store.sentence_vectors(_sentence_ids(evs[i].sections, store.get_articles(art_ids[i]))), idx
        ),
    }
    return out


_COLD_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from newsrag.rag.chain import build_chain
from newsrag.rag.settings import get_settings
t1 = time.perf_counter()
chain = build_chain(get_settings())
t2 = time.perf_counter()
chain.embedder.encode(["warm"])
t3 = time.perf_counter()
chain.index()
t4 = time.perf_counter()
answer = chain.invoke({"question": sys.argv[1]})
t5 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "build_chain_s": t2 - t1, "model_load_s": t3 - t2,
                  "lexical_index_s": t4 - t3, "first_invoke_s": t5 - t4,
                  "torch_imported": "torch" in sys.modules}))
"""


def cold_ask(home: Path, n: int, seed: int, runs: int = 3, backend: str | None = None) -> dict[str, Any]:
    """Wall time of ``newsrag ask`` in a fresh process, and a phase breakdown of an equivalent probe."""
    from .synth import questions

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSRAG_")}
    env.update(NEWSRAG_HOME=str(home), NEWSRAG_PROGRESS="false")
    if backend:
        env["NEWSRAG_EMBEDDING_BACKEND"] = backend
    if os.environ.get("NEWSRAG_MODELS_DIR"):
        env["NEWSRAG_MODELS_DIR"] = os.environ["NEWSRAG_MODELS_DIR"]
    exe = shutil.which("newsrag")
    cmd = [exe] if exe else [sys.executable, "-c", "from newsrag.ui.cli import main; main()"]
    walls, inner = [], []
    for q in questions(n, runs, seed, draw=2):
        t = time.perf_counter()
        out = subprocess.run([*cmd, "ask", q, "--json"], env=env, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t)
        inner.append(sum(v for k, v in json.loads(out.stdout)["timings_ms"].items() if k != "retrieve_total_ms"))
    q = questions(n, 1, seed, draw=3)[0]
    probe = subprocess.run([sys.executable, "-c", _COLD_PROBE, q], env=env, capture_output=True, text=True, check=True)
    phases = json.loads(probe.stdout.strip().splitlines()[-1])
    return {
        "walls_s": walls,
        "median_s": statistics.median(walls),
        "query_ms": inner,
        "phases_s": phases,
        "torch_imported": bool(phases.pop("torch_imported", None)),
    }


def format_result(r: dict[str, Any]) -> str:
    lines = [
        f"N = {r['n']} articles ({r['sections']} sections, {r['sentences']} sentences; store: {r['method']}, "
        f"built in {r['build_s']:.0f} s{', reused' if r['reused'] else ''}): {r['queries']} warm queries, "
        f"{r['abstained']} abstained, "
        f"torch {r['threads']} threads, load {_load(r['load'][0])} -> {_load(r['load'][1])}",
        f"  {'step':22s} {'p50 ms':>8s} {'p95 ms':>8s} {'mean ms':>8s}",
    ]
    for k in ("total", *STEPS, "retrieve_other_ms", "outside_ms"):
        lines.append(f"  {k:22s} {r['p50'][k]:8.1f} {r['p95'][k]:8.1f} {r['mean'][k]:8.1f}")
    one = r.get("single")
    if one:
        lines.append(f"  second pass, torch 1 thread (load {_load(one['load'][0])} -> {_load(one['load'][1])}):")
        for k in ("total", *STEPS, "retrieve_other_ms", "outside_ms"):
            lines.append(f"  {k:22s} {one['p50'][k]:8.1f} {one['p95'][k]:8.1f} {one['mean'][k]:8.1f}")
    for key, label in (("busy", "with busy processes alongside"), ("busy1", "with busy processes, torch 1 thread")):
        if key in r:
            b = r[key]
            lines.append(
                f"  {label}: total p50 {b['p50']['total']:.1f} p95 {b['p95']['total']:.1f}, embed p50 "
                f"{b['p50']['embed_ms']:.1f} p95 {b['p95']['embed_ms']:.1f} ms"
            )
    for label, ms in r.get("diag", {}).items():
        lines.append(f"  {label:68s} {ms:7.2f} ms")
    c = r["cold"]
    lines.append(
        f"  cold `newsrag ask`: median {c['median_s']:.2f} s (runs: {', '.join(f'{w:.2f}' for w in c['walls_s'])}); "
        + ", ".join(f"{k} {v:.2f}" for k, v in c["phases_s"].items())
    )
    lines.append(f"  goal p50 <= {GOAL_P50_MS:.0f} ms, p95 <= {GOAL_P95_MS:.0f} ms: {'met' if _ok(r) else 'MISSED'}")
    return "\n".join(lines)


def _ok(r: dict[str, Any]) -> bool:
    return bool(r["p50"]["total"] <= GOAL_P50_MS and r["p95"]["total"] <= GOAL_P95_MS)


def _load(avg: tuple[float, ...]) -> str:
    return "/".join(f"{x:.2f}" for x in avg)


def doc_section(results: list[dict[str, Any]], command: str) -> str:
    from ..rag.retrieve import QUOTE_SECTIONS

    backend = _settings(Path(".")).embedding_backend
    names = {
        "total": "**total** (`chain.invoke`, wall)",
        "embed_ms": "question embedding",
        "dense_ms": "dense search (Chroma)",
        "lexical_ms": "lexical search (BM25)",
        "quotes_ms": "quote selection (get_articles + sentence lookup + scoring)",
        "compose_ms": "composition (answerable check + extractive text)",
        "retrieve_total_ms": "retrieve total (embed .. quotes)",
        "retrieve_other_ms": "retrieve, not in a step (rewrite, store version, index lookup, fusion, reading the sections kept)",
        "outside_ms": "outside gather/compose (input parsing, Runnable config, Answer)",
    }

    def table(runs: list[dict[str, Any]]) -> str:
        head = "| step | " + " | ".join(f"N={r['n']:,} p50 | N={r['n']:,} p95" for r in runs) + " |"
        rows = [head, "|---|" + "---:|---:|" * len(runs)]
        for k, label in names.items():
            rows.append(f"| {label} | " + " | ".join(f"{r['p50'][k]:.1f} | {r['p95'][k]:.1f}" for r in runs) + " |")
        return "\n".join(rows)

    single = ""
    if all("single" in r for r in results):
        single = (
            "Second pass over the same questions with `torch.set_num_threads(1)` (load average "
            + "; ".join(f"N={r['n']:,}: {_load(r['single']['load'][0])} -> {_load(r['single']['load'][1])}" for r in results)
            + "):\n\n"
            + table([r["single"] for r in results])
            + "\n"
        )
    busy = ""
    if all("busy" in r and "busy1" in r for r in results):
        busy_rows = [
            "| pass | " + " | ".join(f"N={r['n']:,} p50 | N={r['n']:,} p95" for r in results) + " |",
            "|---|" + "---:|---:|" * len(results),
        ]
        for key, label in (("busy", f"torch {results[-1]['busy']['threads']} threads (default)"), ("busy1", "torch 1 thread")):
            for k, what in (("total", "total"), ("embed_ms", "question embedding")):
                busy_rows.append(
                    f"| {label}: {what} | "
                    + " | ".join(f"{r[key]['p50'][k]:.1f} | {r[key]['p95'][k]:.1f}" for r in results)
                    + " |"
                )
        busy = (
            f"The same questions again while {results[-1]['busy_n']} other processes busy-loop "
            "(`while True: pass`), standing in for concurrent requests, an ingest or any other program "
            f"keeping the cores busy ({results[-1]['busy']['queries']} questions per pass):\n\n" + "\n".join(busy_rows) + "\n"
        )
    big = results[-1]
    diag = ""
    if all("diag" in r for r in results):
        labels = list(big["diag"])
        diag_rows = ["| call | " + " | ".join(f"N={r['n']:,}" for r in results) + " |", "|---|" + "---:|" * len(results)]
        diag_rows += [
            f"| {label} | " + " | ".join(f"{r['diag'].get(label, float('nan')):.2f}" for r in results) + " |" for label in labels
        ]
        diag = (
            "Median cost of the single store and model calls behind one question (40 questions each, ms); the two "
            "sentence lookups return the same sentences (checked), the chain now fetches by id:\n\n" + "\n".join(diag_rows) + "\n"
        )

    def built(r: dict[str, Any]) -> str:
        took = f"in {r['build_s']:.0f} s" if r["build_s"] else ""
        return f"{took} (reused from the benchmark's store cache)" if r["reused"] else took

    stores = "\n".join(
        f"* N={r['n']:,}: {r['sections']:,} section and {r['sentences']:,} sentence records; built with "
        f"{r['method']} {built(r)}; {r['abstained']} of {r['queries']} questions abstained; "
        f"load average during the default pass {_load(r['load'][0])} -> {_load(r['load'][1])}; "
        f"peak RSS {r['peak_rss_mb']:.0f} MB."
        for r in results
    )
    cold = "\n".join(
        f"* N={r['n']:,}: median {r['cold']['median_s']:.2f} s over {len(r['cold']['walls_s'])} runs "
        f"({', '.join(f'{w:.2f}' for w in r['cold']['walls_s'])} s); in a probe process: "
        + ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.2f} s" for k, v in r["cold"]["phases_s"].items())
        for r in results
    )
    return f"""
`{command}`, run on {dt.date.today().isoformat()}.
Machine: {machine()}. The machine is shared: the load average (1/5/15 min) is given per pass below.

Warm latency of the default chain (`rag.chain.build_chain(settings)`, extractive answerer, top_k 5 and
{QUOTE_SECTIONS} sections after them for quotes, `{backend}` embedding backend; torch set to
{big["threads"]} threads, which only the `torch` backend uses), in milliseconds, over {big["queries"]} questions drawn
from the synthetic vocabulary (`eval.synth.questions`) after {WARMUP} warm-up questions; steps from `Answer.timings_ms`:

{table(results)}

Goal at N={big["n"]:,}: p50 <= {GOAL_P50_MS:.0f} ms and p95 <= {GOAL_P95_MS:.0f} ms: **{"met" if _ok(big) else "missed"}**
(p50 {big["p50"]["total"]:.1f} ms, p95 {big["p95"]["total"]:.1f} ms).

{single}
{busy}
{diag}
Stores (embedded Chroma, synthetic articles from `eval.synth`, seed 0):

{stores}

Stores larger than 1,000 articles are not embedded with the model end to end (that would take over an hour
on this machine): the first 1,000 articles are the real-model records, and each further article, whose text,
sections, sentences, ids and metadata are real, borrows the real vectors of article `i mod 1000` (position by
position, perturbed so no two vectors coincide) and is written with `Store.write`. Record counts, text, the
BM25 index and the HNSW index sizes are those of a real store; dense rankings for the borrowed articles are not
meaningful, which matters for quality, not for latency.

Cold `newsrag ask --json` (fresh process, store and BM25 cache already built):

{cold}
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Warm query latency of the chain and cold `newsrag ask` time.")
    parser.add_argument("--n", type=int, action="append", help="store size (repeatable); default 1000 and 10000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real-limit", type=int, default=1000, help="largest N embedded end to end with the model")
    parser.add_argument("--cache", type=Path, help="keep and reuse the stores here (default: a temp folder)")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--no-single-thread", action="store_true", help="skip the second pass with 1 torch thread")
    parser.add_argument("--no-diagnose", action="store_true", help="skip timing the single store calls")
    parser.add_argument("--busy", type=int, default=2, help="busy-looping processes for the contention passes (0 skips them) [2]")
    parser.add_argument("--busy-queries", type=int, default=100, help="questions per contention pass [100]")
    parser.add_argument("--profile", type=Path, help="cProfile of a separate pass of the queries at the largest N")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    sizes = sorted(set(args.n or [1000, 10000]))
    tmp = tempfile.TemporaryDirectory(prefix="newsrag-bench-query-") if args.cache is None else None
    cache = args.cache or Path(tmp.name)  # type: ignore[union-attr]
    results = []
    for n in sizes:
        home, method, build_s, reused = build_store(n, cache, args.seed, args.real_limit)
        r = measure(home, n, args.queries, args.seed)
        if not args.no_single_thread:
            r["single"] = measure(home, n, args.queries, args.seed, threads=1)
        if args.busy:
            with busy_processes(args.busy):
                r["busy"] = measure(home, n, args.busy_queries, args.seed)
                r["busy1"] = measure(home, n, args.busy_queries, args.seed, threads=1)
            r["busy_n"] = args.busy
        if not args.no_diagnose:
            r["diag"] = diagnose(home, n, args.seed)
        r.update(method=method, build_s=build_s, reused=reused, cold=cold_ask(home, n, args.seed, args.cold_runs))
        print(format_result(r), flush=True)
        results.append(r)
    if args.profile:
        measure(home, sizes[-1], args.queries, args.seed, profile=args.profile)
        print(f"\ncProfile of the queries at N={sizes[-1]} ({args.profile}), top 30 by cumulative time:")
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(30)
    if not args.no_docs:
        command = "python -m newsrag.eval.bench_query " + " ".join(f"--n {n}" for n in sizes) + f" --queries {args.queries}"
        write_doc_section("Query latency", doc_section(results, command))
        print(f"updated the Query latency section of {DOCS}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
