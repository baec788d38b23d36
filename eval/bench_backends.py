"""The embedding backends side by side (torch, ONNX fp32, ONNX int8), every ratio measured in one run.

``python -m newsrag.eval.bench_backends``:

* **embedding throughput**: the texts ingest embeds for ``--articles`` synthetic articles
  (:func:`eval.bench_ingest.batch_texts`: section texts and headline-prefixed sentences, grouped per
  write batch), encoded by each backend in turn, batch by batch in a rotating order, so that load from
  other processes hits every backend alike; with each backend's cosine to torch's vectors;
* **one question**: ``encode([question])`` p50/p95 per backend, quiet and with ``--busy`` processes
  spinning on the cores (the ONNX backends run a single question on one thread);
* **warm answers at N articles**: ``chain.invoke`` p50/p95 on the store :func:`eval.bench_query.build_store`
  builds (its first 1,000 articles embedded with ONNX fp32, which gives torch's vectors), quiet and busy.
  The int8 backend is a model identity of its own, so it runs on a copy of that store relabelled as int8:
  its stored vectors are fp32 ones, which changes nothing for latency (and answer quality is measured
  by ``newsrag eval``, not here);
* **cold start**: wall time of ``newsrag ask`` in a fresh process, and whether it imported torch.

The "Embedding backends" section of docs/benchmarks.md is replaced unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .bench_ingest import batch_texts, machine, write_doc_section
from .bench_query import _load, _pct, _settings, build_store, busy_processes, cold_ask, measure

__all__ = ["BACKENDS", "throughput", "question_latency", "main"]

BACKENDS = ("torch", "onnx", "onnx-int8")


def _embedder(backend: str) -> Any:
    from ..rag.embed import make_embedder
    from ..rag.settings import BUNDLED_MODEL, Settings

    settings = Settings(embedding_model=BUNDLED_MODEL, embedding_backend=backend, progress=False)  # type: ignore[arg-type]
    embedder = make_embedder(settings)
    expected = "SentenceTransformerEmbedder" if backend == "torch" else "OnnxEmbedder"
    if type(embedder).__name__ != expected:
        raise RuntimeError(f"backend {backend}: got {type(embedder).__name__}, expected {expected} (see the warning above)")
    embedder.encode(["warm-up sentence for the benchmark"] * 64)
    embedder.encode(["warm-up question"])
    return embedder


def throughput(embedders: dict[str, Any], groups: list[list[str]]) -> dict[str, dict[str, float]]:
    """Seconds and texts/s per backend over the same batches, in rotating order; cosine to torch."""
    seconds = dict.fromkeys(embedders, 0.0)
    vectors: dict[str, list[np.ndarray]] = {b: [] for b in embedders}
    names = list(embedders)
    for k, texts in enumerate(groups):
        for b in names[k % len(names) :] + names[: k % len(names)]:
            t = time.perf_counter()
            vectors[b].append(embedders[b].encode(texts))
            seconds[b] += time.perf_counter() - t
    n = sum(len(g) for g in groups)
    ref = np.concatenate(vectors["torch"]) if "torch" in vectors else None
    out: dict[str, dict[str, float]] = {}
    for b in names:
        row = {"seconds": seconds[b], "texts_per_s": n / seconds[b]}
        if ref is not None:
            cos = (np.concatenate(vectors[b]) * ref).sum(axis=1)
            row.update(cos_min=float(cos.min()), cos_mean=float(cos.mean()))
        out[b] = row
    return out


def question_latency(embedders: dict[str, Any], questions: list[str]) -> dict[str, dict[str, float]]:
    """``encode([q])`` p50/p95 in ms per backend, backends interleaved question by question."""
    times: dict[str, list[float]] = {b: [] for b in embedders}
    for q in questions:
        for b, embedder in embedders.items():
            t = time.perf_counter()
            embedder.encode([q])
            times[b].append((time.perf_counter() - t) * 1000)
    return {b: {"p50": _pct(v, 50), "p95": _pct(v, 95)} for b, v in times.items()}


def _relabel(home: Path, target: Path, identity: str) -> Path:
    """A copy of the store at ``home`` whose collections claim ``identity`` as their model."""
    from ..rag.store import make_store

    if not target.exists():
        shutil.copytree(home, target)
    store = make_store(_settings(target, "torch"), model="")
    for kind in ("sections", "sentences", "articles"):
        col = store.client.get_collection(f"{store.prefix}_{kind}")
        meta = dict(col.metadata or {})
        if meta.get("model") != identity:
            meta["model"] = identity
            col.modify(metadata=meta)
    return target


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ..rag.embed import model_identity
    from ..rag.settings import BUNDLED_MODEL, Settings
    from .synth import questions, write_corpus

    backends = args.backend or list(BACKENDS)
    result: dict[str, Any] = {"backends": backends, "date": dt.date.today().isoformat(), "machine": machine()}
    result["load_start"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="newsrag-bench-backends-") as tmp:
        files = write_corpus(Path(tmp) / "articles", args.articles, args.seed)
        defaults = Settings(_env_file=None)  # type: ignore[call-arg]
        groups = batch_texts(files, defaults.chunk_chars, defaults.max_file_bytes)
    embedders = {b: _embedder(b) for b in backends}
    result["texts"] = sum(len(g) for g in groups)
    result["throughput"] = throughput(embedders, groups)
    print("throughput:", result["throughput"], flush=True)
    qs = questions(args.n, args.questions, args.seed, draw=5)
    result["question"] = question_latency(embedders, qs)
    print("one question:", result["question"], flush=True)
    if args.busy:
        with busy_processes(args.busy):
            result["question_busy"] = question_latency(embedders, qs[: args.busy_queries])
        print("one question, busy:", result["question_busy"], flush=True)
    del embedders

    cache = args.cache or Path(tempfile.mkdtemp(prefix="newsrag-bench-backends-"))
    home, method, _, _ = build_store(args.n, cache, args.seed, args.real_limit)
    result["store"] = {"n": args.n, "method": method}
    homes = {b: home for b in backends}
    if "onnx-int8" in backends:
        homes["onnx-int8"] = _relabel(
            home, cache / f"n{args.n}-seed{args.seed}-int8" / "home", model_identity(BUNDLED_MODEL, "onnx-int8")
        )
    result["warm"], result["warm_busy"], result["cold"] = {}, {}, {}
    for b in backends:
        result["warm"][b] = measure(homes[b], args.n, args.queries, args.seed, backend=b)
        if args.busy:
            with busy_processes(args.busy):
                result["warm_busy"][b] = measure(homes[b], args.n, args.busy_queries, args.seed, backend=b)
        result["cold"][b] = cold_ask(homes[b], args.n, args.seed, args.cold_runs, backend=b)
        print(
            b,
            "warm",
            _brief(result["warm"][b]),
            "busy",
            _brief(result["warm_busy"].get(b)),
            "cold",
            result["cold"][b]["median_s"],
            flush=True,
        )
    result["load_end"] = os.getloadavg()
    result["busy_n"] = args.busy
    return result


def _brief(r: dict[str, Any] | None) -> str:
    return "-" if r is None else f"p50 {r['p50']['total']:.1f} ms, p95 {r['p95']['total']:.1f} ms"


def doc_section(r: dict[str, Any], command: str) -> str:
    backends = r["backends"]
    head = "| measure | " + " | ".join(backends) + " |\n|---|" + "---:|" * len(backends) + "\n"
    tp = r["throughput"]
    torch_tps = tp.get("torch", {}).get("texts_per_s")

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |\n"

    body = head
    body += row("embedding throughput, texts/s", [f"{tp[b]['texts_per_s']:.1f}" for b in backends])
    if torch_tps:
        body += row("throughput / torch's", [f"**{tp[b]['texts_per_s'] / torch_tps:.2f}x**" for b in backends])
        body += row(
            "cosine to torch's vectors, min / mean", [f"{tp[b]['cos_min']:.5f} / {tp[b]['cos_mean']:.5f}" for b in backends]
        )
    q = r["question"]
    body += row("embed one question, p50 / p95 ms", [f"{q[b]['p50']:.1f} / {q[b]['p95']:.1f}" for b in backends])
    if "question_busy" in r:
        qb = r["question_busy"]
        body += row(
            f"the same with {r['busy_n']} busy processes, p50 / p95 ms",
            [f"{qb[b]['p50']:.1f} / {qb[b]['p95']:.1f}" for b in backends],
        )
    n = r["store"]["n"]
    w = r["warm"]
    body += row(
        f"**warm answer at {n:,} articles, p50 / p95 ms**",
        [f"**{w[b]['p50']['total']:.1f} / {w[b]['p95']['total']:.1f}**" for b in backends],
    )
    body += row("&nbsp;&nbsp;of which question embedding, p50 ms", [f"{w[b]['p50']['embed_ms']:.1f}" for b in backends])
    if r["warm_busy"]:
        wb = r["warm_busy"]
        body += row(
            f"**warm answer with {r['busy_n']} busy processes, p50 / p95 ms**",
            [f"**{wb[b]['p50']['total']:.1f} / {wb[b]['p95']['total']:.1f}**" for b in backends],
        )
    c = r["cold"]
    body += row("**cold `newsrag ask`, median wall s**", [f"**{c[b]['median_s']:.2f}**" for b in backends])
    body += row("&nbsp;&nbsp;runs, s", [", ".join(f"{x:.2f}" for x in c[b]["walls_s"]) for b in backends])
    body += row("&nbsp;&nbsp;imports torch", ["yes" if c[b]["torch_imported"] else "no" for b in backends])
    body += row(
        "&nbsp;&nbsp;phases in a probe process, s",
        [", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.2f}" for k, v in c[b]["phases_s"].items()) for b in backends],
    )
    return f"""`{command}`, run on {r["date"]}.
Machine: {r["machine"]}. Load average (1/5/15 min) at start / end: {_load(r["load_start"])} / {_load(r["load_end"])}.

Throughput: the {r["texts"]:,} texts that ingest embeds for the synthetic articles (sections, and sentences with their
headline), in ingest's write batches, each backend in turn batch by batch. One question: questions drawn from the
synthetic corpus, one `encode([q])` each, backends interleaved. Warm answers: `build_chain(settings).invoke` on a
store of {n:,} synthetic articles ({r["store"]["method"]}); the int8 column runs on a copy of it relabelled as int8 (fp32
vectors; the same latency). Busy: {r["busy_n"]} other processes spin on the cores meanwhile. Cold: a fresh `newsrag ask --json`
on that store, the store and its BM25 cache already built, the ONNX export already made.

{body}"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="torch vs ONNX embedding backends, side by side.")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="repeatable; default all three")
    parser.add_argument("--articles", type=int, default=100, help="synthetic articles whose texts are embedded [100]")
    parser.add_argument("--n", type=int, default=10000, help="store size for the warm and cold answers [10000]")
    parser.add_argument("--real-limit", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--busy-queries", type=int, default=100)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="keep and reuse the stores here")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    result = run(args)
    if not args.no_docs:
        command = f"python -m newsrag.eval.bench_backends --articles {args.articles} --n {args.n}"
        write_doc_section("Embedding backends", doc_section(result, command))
        print("updated the Embedding backends section of docs/benchmarks.md")


if __name__ == "__main__":
    main()
