"""How many of the nearest sections and sentences Chroma's HNSW search misses, and what it costs, per
``ef_search`` (``NEWSRAG_HNSW_EF_SEARCH``).

``python -m newsrag.eval.bench_search_depth --home DIR --questions eval/datasets/news/dev.jsonl --ef 100 --ef 400``

Every question of the file (``--limit`` of them) is embedded with the store's model and sent to the
store's section and sentence collections for the chain's depths (20 sections, 30 sentences); the answer is
compared with exact cosine over every stored vector. The store is queried in place: its ``ef_search`` is
set for each pass and put back to what it was at the end. Each pass runs in a fresh process, because
Chroma reads ``ef_search`` when a process loads the index (a change made later in that process does not
reach it). Prints one Markdown table row per (collection,
ef_search); it does not edit docs/benchmarks.md (the stores it runs on are the user's choice).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["misses", "main"]

DEPTHS = {"sections": 20, "sentences": 30}


def misses(col: Any, queries: np.ndarray, k: int) -> tuple[int, int, list[float]]:
    """(neighbours missed, neighbours wanted, per-query seconds) of ``col`` against exact cosine. A
    returned record that ties the exact k-th score is not a miss."""
    from ..rag.store import pages

    ids: list[str] = []
    blocks = []
    for page in pages(col, ["embeddings"]):
        ids += page["ids"]
        blocks.append(np.asarray(page["embeddings"], dtype=np.float32))
    vectors = np.vstack(blocks)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    position = {cid: n for n, cid in enumerate(ids)}
    col.query(query_embeddings=[queries[0]], n_results=k, include=[])  # loads the index
    missed, seconds = 0, []
    for q in queries:
        t = time.perf_counter()
        got = col.query(query_embeddings=[q], n_results=k, include=[])["ids"][0]
        seconds.append(time.perf_counter() - t)
        scores = vectors @ (q / np.linalg.norm(q))
        kth = np.sort(scores)[-k]
        missed += sum(1 for cid in got if scores[position[cid]] < kth - 1e-6) + max(0, k - len(got))
    return missed, k * len(queries), seconds


def _pass(home: Path, vectors: Path) -> None:
    """One process, one ef_search (the stored one): print a row per collection."""
    from ..rag.settings import Settings
    from ..rag.store import make_store

    store = make_store(Settings(home=home))
    queries = np.load(vectors)
    for kind, k in DEPTHS.items():
        col = getattr(store, kind)
        missed, wanted, seconds = misses(col, queries, k)
        ef = col.configuration["hnsw"]["ef_search"]
        p95 = float(np.percentile(seconds, 95)) * 1000
        print(
            f"| {kind} (k={k}) | {col.count():,} | {ef} | {missed} of {wanted} ({100 * missed / wanted:.1f}%) | "
            f"{statistics.median(seconds) * 1000:.2f} / {p95:.2f} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Neighbours missed and query time per HNSW ef_search.")
    parser.add_argument("--home", type=Path, required=True, help="NEWSRAG_HOME of an ingested store")
    parser.add_argument("--questions", type=Path, help="a JSON Lines eval set")
    parser.add_argument("--ef", type=int, action="append", default=[])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--pass-vectors", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pass_vectors:
        _pass(args.home, args.pass_vectors)
        return
    if not args.questions or not args.ef:
        parser.error("--questions and at least one --ef are needed")
    from ..rag.embed import make_embedder
    from ..rag.settings import Settings
    from ..rag.store import make_store

    settings = Settings(home=args.home)
    embedder = make_embedder(settings)
    store = make_store(settings, model=embedder.name)
    lines = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = np.asarray(embedder.encode([q["question"] for q in lines[: args.limit]]), dtype=np.float32)
    cols = [getattr(store, kind) for kind in DEPTHS]
    before = [c.configuration["hnsw"]["ef_search"] for c in cols]
    print(f"store {args.home}, {len(queries)} questions from {args.questions}, load {os.getloadavg()[0]:.2f}")
    print("| collection | records | ef_search | missed of the exact top k | query p50 / p95 ms |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        vectors = Path(tmp) / "questions.npy"
        np.save(vectors, queries)
        try:
            for ef in args.ef:
                for col in cols:
                    col.modify(configuration={"hnsw": {"ef_search": ef}})
                cmd = [sys.executable, "-m", "newsrag.eval.bench_search_depth", "--home", str(args.home)]
                subprocess.run([*cmd, "--pass-vectors", str(vectors)], check=True)
        finally:
            for col, ef in zip(cols, before, strict=True):
                col.modify(configuration={"hnsw": {"ef_search": ef}})


if __name__ == "__main__":
    main()
