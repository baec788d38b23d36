"""How the store's costs grow from 1,000 to 10,000 to 100,000 articles, embedded and behind ``chroma run``.

``python -m newsrag.eval.bench_scale --n 1000 --n 10000 --n 100000 --cache DIR``:

* **Stores.** N=1,000 is :func:`eval.bench_query.build_store`'s real store (synthetic articles embedded
  with the bundled model); larger N extend it. 100,000 articles are about 2.7 million records; writing
  synthetic text files, parsing and embedding them would take days on 2 cores, so each article beyond the
  first 1,000 is a *clone* of real article ``i mod 1000``: the same parsed text, sections and sentences
  under its own id, URL, title suffix and date, with that article's real vectors nudged by random noise
  (as ``bench_query`` does), written through the real ``Store.write`` in ingest's batches. Record counts,
  metadata, documents, the HNSW and BM25 index sizes are those of a real store of that size; dense
  rankings among clones are not meaningful (that matters for quality, not for cost).
* **Per size:** store write seconds per 1,000 articles as the store grows, disk (du of the Chroma folder),
  warm ``chain.invoke`` p50/p95 (quiet) and the process RSS after the queries, the BM25 index build time,
  on the embedded store and, with ``--server``, through a ``chroma run`` server started on the same
  folder; ingest wall time extrapolated from the measured ingest rate (``--ingest-rate`` articles/s,
  from ``bench_ingest``) plus the measured write cost at that size.

The "Scale" section of docs/benchmarks.md is replaced unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .bench_ingest import machine, write_doc_section
from .bench_query import _bank, _borrow, _settings, build_store

__all__ = ["extend_store", "measure_store", "main"]


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def extend_store(home: Path, bank_home: Path, bank_files: list[Path], n: int, seed: int) -> dict[str, Any]:
    """Grow the store at ``home`` (a copy of the real bank store) to ``n`` articles with clones; returns the
    write seconds per 1,000 articles at each tenth of the way."""
    from ..ingest.chunk import make_chunks
    from ..ingest.parse import parse_file
    from ..ingest.pipeline import WRITE_BATCH
    from ..rag.store import ArticleWrite, make_store

    settings = _settings(home)
    store = make_store(settings)
    store.check()
    have = store.count()
    if have >= n:
        return json.loads((home.parent / "extend.json").read_text(encoding="utf-8"))
    templates = [parse_file(f).articles[0] for f in bank_files]
    bank = _bank(make_store(_settings(bank_home)), [a.id for a in templates])
    rng = np.random.default_rng(seed + have)
    store.set_dirty(True)
    marks: list[dict[str, float]] = []
    t_mark, done_mark = time.perf_counter(), have
    step = max(1000, (n - have) // 10)
    for start in range(have, n, WRITE_BATCH):
        writes = []
        for i in range(start, min(n, start + WRITE_BATCH)):
            t = templates[i % len(templates)]
            day = (t.date or dt.date(2026, 1, 1)) + dt.timedelta(days=(i // len(templates)) % 365)
            clone = t.model_copy(
                update={
                    "id": f"{t.id}-c{i}",
                    "url": f"{t.url or 'https://clone.example/a'}?copy={i}",
                    "title": f"{t.title} ({i})",
                    "date": day,
                    "path": None,
                }
            )
            chunks = make_chunks(clone, settings.chunk_chars)
            sec, sen = bank[t.id]
            writes.append(ArticleWrite(clone, chunks, _borrow(sec, len(chunks), rng), _borrow(sen, len(clone.sentences), rng)))
        store.write(writes)
        stored = start + len(writes)
        if stored - done_mark >= step or stored == n:
            seconds = time.perf_counter() - t_mark
            marks.append({"articles": stored, "write_s_per_1000": 1000 * seconds / (stored - done_mark)})
            print(f"  {stored} articles stored ({marks[-1]['write_s_per_1000']:.1f} s per 1000)", flush=True)
            t_mark, done_mark = time.perf_counter(), stored
    store.set_dirty(False)
    info = {"marks": marks}
    (home.parent / "extend.json").write_text(json.dumps(info), encoding="utf-8")
    return info


_PROBE = """
import json, sys, time, statistics
from pathlib import Path
import numpy as np
from newsrag.eval.bench_ingest import rss_mb
from newsrag.eval.bench_query import _settings
from newsrag.eval.synth import questions
from newsrag.rag.chain import build_chain
home, n, queries, url = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] or None
settings = _settings(home)
if url:
    settings = settings.model_copy(update={"chroma_url": url})
t = time.perf_counter()
chain = build_chain(settings)
chain.embedder.encode(["warm"])
t_chain = time.perf_counter() - t
t = time.perf_counter()
chain.index()
t_index = time.perf_counter() - t
for q in questions(n, 10, 0, draw=1):
    chain.invoke({"question": q})
times = []
for q in questions(n, queries, 0, draw=0):
    t = time.perf_counter()
    chain.invoke({"question": q})
    times.append((time.perf_counter() - t) * 1000)
rss = rss_mb()
store = chain.store
records = store.count() + store.sections.count() + store.sentences.count()
print(json.dumps({"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)), "rss_mb": rss,
                  "build_chain_s": t_chain, "bm25_index_s": t_index, "records": records}))
"""


def measure_store(home: Path, n: int, queries: int, url: str | None = None) -> dict[str, Any]:
    """Warm latency and RSS in a fresh process (so that RSS is this store's), embedded or via ``url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSRAG_") or k == "NEWSRAG_MODELS_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(home), str(n), str(queries), url or ""],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"measuring N={n} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import psutil

    from .servers import chroma_executable, free_port, http_ok, tree_total

    cache: Path = args.cache
    sizes = sorted(set(args.n))
    bank_home, *_ = build_store(args.real_limit, cache, args.seed, args.real_limit)
    bank_files = sorted((cache / f"n{args.real_limit}-seed{args.seed}" / "articles").glob("*"))[: args.real_limit]
    rows = []
    for n in sizes:
        extend: dict[str, Any] = {"marks": []}
        if n <= args.real_limit:
            home = bank_home
        else:
            folder = cache / f"scale-n{n}-seed{args.seed}"
            home = folder / "home"
            if not home.exists():  # start from the largest finished smaller store: its clones are the same
                smaller = [
                    m
                    for m in sizes
                    if args.real_limit < m < n and (cache / f"scale-n{m}-seed{args.seed}" / "extend.json").exists()
                ]
                start = cache / f"scale-n{max(smaller)}-seed{args.seed}" / "home" if smaller else bank_home
                shutil.copytree(start, home)
            print(f"[N={n}] extending the store with clones ...", flush=True)
            extend = extend_store(home, bank_home, bank_files, n, args.seed)
        row: dict[str, Any] = {"n": n, "marks": extend["marks"], "disk_mb": _du_mb(home / "chroma")}
        if args.build_only:
            continue
        row["load_start"] = os.getloadavg()
        row["embedded"] = measure_store(home, n, args.queries)
        print(f"[N={n}] embedded: {row['embedded']}", flush=True)
        if args.server:
            port = free_port()
            log = open(home.parent / "chroma-server.log", "w")  # noqa: SIM115 (closed below)
            server = subprocess.Popen(
                [chroma_executable(), "run", "--path", str(home / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 300
                while not http_ok(f"{url}/api/v2/heartbeat"):
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"chroma run did not start; see {log.name}")
                    time.sleep(0.5)
                row["server"] = measure_store(home, n, args.queries, url)
                rss = tree_total(psutil.Process(server.pid), lambda proc: proc.memory_info().rss)
                row["server"]["server_rss_mb"] = rss / 2**20
                print(f"[N={n}] server: {row['server']}", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=60)
                log.close()
        row["load_end"] = os.getloadavg()
        rows.append(row)
    return rows


def doc_section(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    def write_cost(r: dict[str, Any]) -> str:
        return f"{r['marks'][-1]['write_s_per_1000']:.1f}" if r["marks"] else "(real ingest)"

    def ingest_h(r: dict[str, Any]) -> str:
        write = r["marks"][-1]["write_s_per_1000"] if r["marks"] else 0.0
        return f"{r['n'] / args.ingest_rate / 3600 + write * r['n'] / 1000 / 3600:.1f} h"

    server = any("server" in r for r in rows)
    head = (
        "| articles | records | disk | store writes, s per 1,000 articles (at that size) | ingest, extrapolated "
        "| embedded p50 / p95 ms | embedded RSS | BM25 index build |"
    )
    sep = "|---:|---:|---:|---:|---:|---:|---:|---:|"
    if server:
        head += " server p50 / p95 ms | client RSS / `chroma run` RSS |"
        sep += "---:|---:|"
    lines = [head, sep]
    for r in rows:
        e = r["embedded"]
        records = e["records"]
        line = (
            f"| {r['n']:,} | {records / 1e6:.2f} M | {r['disk_mb'] / 1024:.2f} GB | {write_cost(r)} | {ingest_h(r)} | "
            f"{e['p50']:.1f} / {e['p95']:.1f} | {e['rss_mb']:.0f} MB | {e['bm25_index_s']:.1f} s |"
        )
        if server:
            s = r.get("server")
            line += (
                f" {s['p50']:.1f} / {s['p95']:.1f} | {s['rss_mb']:.0f} MB / {s['server_rss_mb']:.0f} MB |" if s else " - | - |"
            )
        lines.append(line)
    loads = "; ".join(f"N={r['n']:,}: " + "/".join(f"{x:.2f}" for x in r["load_start"]) for r in rows)
    command = "python -m newsrag.eval.bench_scale " + " ".join(f"--n {n}" for n in sorted(set(args.n)))
    command += " --server" if args.server else ""
    return f"""`{command}`, run on {dt.date.today().isoformat()}.
Machine: {machine()}. Load average (1/5/15 min) before each size: {loads}.

Stores: the first {args.real_limit:,} articles are synthetic articles embedded with the bundled model; the rest are
clones of them (same text under another id, URL, title and date; real vectors nudged by noise), written by
the real `Store.write`. Latency: {args.queries} questions from the synthetic vocabulary after 10 warm-up
questions, default chain (ONNX backend), each size in a fresh process. Ingest is extrapolated as N /
{args.ingest_rate} articles/s (the measured ingest rate, embedding included) plus the store-write cost measured at that size.

{chr(10).join(lines)}
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Store costs from 1k to 100k articles.")
    parser.add_argument("--n", type=int, action="append", required=True)
    parser.add_argument("--cache", type=Path, required=True, help="stores are built and kept here")
    parser.add_argument("--real-limit", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--server", action="store_true", help="also query through `chroma run` on the same folder")
    parser.add_argument("--ingest-rate", type=float, default=4.0, help="measured ingest articles/s (bench_ingest)")
    parser.add_argument("--build-only", action="store_true", help="build the stores, measure nothing")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    rows = run(args)
    if not args.no_docs and not args.build_only:
        write_doc_section("Scale", doc_section(rows, args))
        print("updated the Scale section of docs/benchmarks.md")


if __name__ == "__main__":
    main()
