"""Ingest throughput with the real bundled model, compared with ``model.encode`` alone on the same texts.

``python -m newsrag.eval.bench_ingest --n 1000`` writes N synthetic articles (:mod:`eval.synth`) into a temporary
folder, ingests them into a fresh temporary NEWSRAG_HOME, and, in the same process, times
``model.encode`` on exactly the texts ingest embeds (section ``embed_text`` and sentence texts, grouped
per write batch like :func:`ingest.pipeline.write_articles`, same batch size). The ratio
ingest wall time / encode time says how much ingest costs beyond the model; the goal is <= 1.15.
Each encode-only call sits right next to the ingest's own call for the same batch (alternately before
and after it, and subtracted from the ingest wall time), so that load from other processes on a shared
machine affects both sides of the ratio alike; load averages are reported too.

Inside the ingest run, embedding and store writes are timed through thin wrappers (no change to the
code under test), so the report also says where the rest of the time goes. ``--profile FILE`` adds a
cProfile of the ingest call. ``--memory N`` (repeatable) ingests N articles in a fresh process for its peak
memory, and measures the finished store's index in another (:func:`store_resident_mb`). The "Ingest" section
of docs/benchmarks.md is replaced unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import re
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run", "write_doc_section", "machine", "rss_mb", "peak_rss_mb", "DOCS"]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
GOAL_RATIO = 1.15  # issue 12 (was 1.3)


def machine() -> str:
    """One line about the machine and the library versions the numbers depend on."""
    import chromadb
    import sentence_transformers
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"sentence-transformers {sentence_transformers.__version__}, chromadb {chromadb.__version__}, "
        f"Python {platform.python_version()}"
    )


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _status_mb(field: str) -> float | None:
    """A memory field of ``/proc/self/status`` (Linux), in MB; None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident memory of this process now (VmRSS; Linux only)."""
    rss = _status_mb("VmRSS")
    if rss is None:
        raise RuntimeError("no VmRSS in /proc/self/status: current memory is measured on Linux only")
    return rss


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far. On Linux VmHWM: ``ru_maxrss`` carries the parent's peak
    over into a child started by fork + exec, so a child of a big process would report its parent's peak."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def write_doc_section(title: str, body: str, path: Path = DOCS) -> None:
    """Replace the ``## {title}`` section of the benchmarks page (or append it); other sections stay."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


class _Timer:
    """Accumulated seconds per label, for wrapped calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t
                self.calls[label] = self.calls.get(label, 0) + 1

        return timed


def batch_texts(files: list[Path], chunk_chars: int, max_file_bytes: int) -> list[list[str]]:
    """The texts ingest embeds, grouped per write batch exactly as ``write_articles`` does."""
    from ..ingest.chunk import make_chunks, sentence_embed_text
    from ..ingest.parse import parse_file
    from ..ingest.pipeline import WRITE_BATCH

    articles = [a for f in files for a in parse_file(f, max_file_bytes).articles]
    groups = []
    for i in range(0, len(articles), WRITE_BATCH):
        batch = articles[i : i + WRITE_BATCH]
        texts = [c.embed_text for a in batch for c in make_chunks(a, chunk_chars)]
        texts += [sentence_embed_text(a, s) for a in batch for s in a.sentences]
        groups.append(texts)
    return groups


class _PairedEmbedder:
    """The real embedder as ingest sees it, plus, around each of its calls, ``model.encode`` alone on the
    same batch of texts (derived independently by :func:`batch_texts`), alternately before and after.

    Pairing each ingest batch with an encode-only call a moment apart means that load from other processes
    on a shared machine hits both sides of the ratio alike. The encode-only calls are subtracted from the
    ingest wall time."""

    def __init__(self, inner: Any, groups: list[list[str]], batch_size: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.groups = groups
        self.batch_size = batch_size
        self.calls = 0
        self.mismatches = 0
        self.inside_s = self.alone_s = self.alone_cpu_s = 0.0

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def release_batch_memory(self) -> None:
        """Ingest ends by freeing what the embedder keeps for batches (the ONNX arena), before it prepares
        the caches for the next question; without this the bench measured that step on top of the arena."""
        from ..rag.embed import release_batch_memory

        release_batch_memory(self.inner)

    def _alone(self, texts: list[str]) -> None:
        cpu, t = _cpu_s(), time.perf_counter()
        if hasattr(self.inner, "model"):  # torch: sentence-transformers' own encode
            vectors = self.inner.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        else:  # ONNX: the embedder is the model call (tokenize, run, pool), nothing of ingest's
            vectors = self.inner.encode(texts)
        np.asarray(vectors, dtype=np.float32)
        self.alone_s += time.perf_counter() - t
        self.alone_cpu_s += _cpu_s() - cpu

    def encode(self, texts: list[str]) -> np.ndarray:
        k = self.calls
        self.calls += 1
        expected = self.groups[k] if k < len(self.groups) else []
        if texts != expected:
            self.mismatches += 1
        if k % 2 == 0:
            self._alone(expected)
        t = time.perf_counter()
        vectors = self.inner.encode(texts)
        self.inside_s += time.perf_counter() - t
        if k % 2 == 1:
            self._alone(expected)
        return vectors


def run(
    n: int, seed: int = 0, profile: Path | None = None, keep: Path | None = None, backend: str | None = None
) -> dict[str, Any]:
    """Generate, ingest (paired with encode-only calls), return the numbers printed by :func:`main`."""
    from ..ingest.pipeline import ingest_paths
    from ..rag.embed import make_embedder
    from ..rag.settings import BUNDLED_MODEL, Settings
    from ..rag.store import make_store
    from .synth import self_check, write_corpus

    self_check(50, seed)
    tmp = tempfile.TemporaryDirectory(prefix="newsrag-bench-ingest-")
    root = keep or Path(tmp.name)
    if keep and (keep / "home").exists():
        shutil.rmtree(keep / "home")  # always a fresh store
    articles_dir, home = root / "articles", root / "home"
    t = time.perf_counter()
    files = write_corpus(articles_dir, n, seed)
    gen_s = time.perf_counter() - t
    settings = Settings(home=home, embedding_model=BUNDLED_MODEL, progress=False, chroma_url=None)
    if backend:
        settings = settings.model_copy(update={"embedding_backend": backend})

    embedder = make_embedder(settings)
    t = time.perf_counter()
    embedder.encode(["warm-up sentence for the benchmark"] * 64)  # loads the model, warms the kernels
    load_s = time.perf_counter() - t

    t = time.perf_counter()
    groups = batch_texts(files, settings.chunk_chars, settings.max_file_bytes)
    prep_s = time.perf_counter() - t
    n_texts = sum(len(g) for g in groups)

    load_start = os.getloadavg()
    rss_before = peak_rss_mb()
    timer = _Timer()
    store = make_store(settings, model=embedder.name)
    for name in ("write", "_delete_children", "sweep_orphans", "markers"):
        setattr(store, name, timer.wrap(f"store.{name}", getattr(store, name)))
    upsert = timer.wrap("store._upsert", store._upsert)
    per_kind = {kind: timer.wrap(f"store._upsert[{kind}]", upsert) for kind in ("sections", "sentences", "articles")}

    def upsert_by_kind(col: Any, *args: Any) -> Any:
        return per_kind[str(col.name).rsplit("_", 1)[-1]](col, *args)

    store._upsert = upsert_by_kind  # type: ignore[method-assign,assignment]
    paired = _PairedEmbedder(embedder, groups, settings.embedding_batch_size)
    profiler = cProfile.Profile() if profile else None
    cpu, t = _cpu_s(), time.perf_counter()
    if profiler:
        profiler.enable()
    report = ingest_paths([articles_dir], settings, progress=False, store=store, embedder=paired)
    if profiler:
        profiler.disable()
    ingest_s = time.perf_counter() - t - paired.alone_s
    ingest_cpu = _cpu_s() - cpu - paired.alone_cpu_s
    rss_ingest = peak_rss_mb()
    load_end = os.getloadavg()
    if report.failed or report.added != n:
        raise RuntimeError(f"ingest did not add all {n} articles: {report.summary()}; {report.errors[:3]}")
    if paired.mismatches or paired.calls != len(groups):
        raise RuntimeError(
            f"ingest embedded other texts than make_chunks + sentences predict: {paired.mismatches} of "
            f"{paired.calls} batches differ ({len(groups)} expected)"
        )
    if profiler and profile:
        profiler.dump_stats(str(profile))
    encode_s = paired.alone_s
    breakdown = {"encode (inside ingest)": paired.inside_s, **timer.seconds}
    calls = {"encode (inside ingest)": paired.calls, **timer.calls}
    result: dict[str, Any] = {
        "n": n,
        "seed": seed,
        "backend": settings.embedding_backend,
        "embedder": type(embedder).__name__,
        "sections": report.sections,
        "sentences": report.sentences,
        "texts": n_texts,
        "batch_size": settings.embedding_batch_size,
        "ingest_s": ingest_s,
        "encode_s": encode_s,
        "ratio": ingest_s / encode_s,
        "articles_per_s": n / ingest_s,
        "sections_per_s": report.sections / ingest_s,
        "sentences_per_s": report.sentences / ingest_s,
        "texts_per_s_encode": n_texts / encode_s,
        "peak_rss_mb": rss_ingest,
        "rss_before_ingest_mb": rss_before,
        "model_load_s": load_s,
        "generate_s": gen_s,
        "prepare_texts_s": prep_s,
        "breakdown_s": breakdown,
        "calls": calls,
        "other_s": ingest_s - paired.inside_s - timer.seconds.get("store.write", 0.0),
        "outside_encode_s": ingest_s - paired.inside_s,
        "machine": machine(),
        "date": dt.date.today().isoformat(),
        "ingest_cpu_s": ingest_cpu,
        "encode_cpu_s": paired.alone_cpu_s,
        "load_start": load_start,
        "load_end": load_end,
    }
    if keep is None:
        tmp.cleanup()
    return result


def _overhead_ratio(r: dict[str, Any]) -> float:
    """The ratio with the ingest's own encode time replaced by the paired encode-only time: what ingest
    adds to the model, without the noise of two encode runs of the same texts differing."""
    return float((r["encode_s"] + r["outside_encode_s"]) / r["encode_s"])


def _load(avg: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in avg)


def format_result(r: dict[str, Any]) -> str:
    b = r["breakdown_s"]
    lines = [
        f"N = {r['n']} synthetic articles (eval.synth, seed {r['seed']}): {r['sections']} sections, "
        f"{r['sentences']} sentences, {r['texts']} texts embedded, batch size {r['batch_size']}",
        f"ingest wall time   {r['ingest_s']:8.1f} s   {r['articles_per_s']:7.1f} articles/s  "
        f"{r['sections_per_s']:7.1f} sections/s  {r['sentences_per_s']:7.1f} sentences/s",
        f"model.encode alone {r['encode_s']:8.1f} s   {r['texts_per_s_encode']:7.1f} texts/s  (paired with each ingest batch)",
        f"process CPU time: ingest {r['ingest_cpu_s']:.1f} s, encode alone {r['encode_cpu_s']:.1f} s "
        f"(ratio {r['ingest_cpu_s'] / r['encode_cpu_s']:.2f})",
        f"load average (1/5/15 min): start {_load(r['load_start'])}, end {_load(r['load_end'])}",
        f"ratio ingest / encode = {r['ratio']:.2f}  (goal <= {GOAL_RATIO})",
        f"ingest time outside encode: {r['outside_encode_s']:.1f} s ({1000 * r['outside_encode_s'] / r['n']:.1f} ms "
        f"per article); (encode alone + that) / encode alone = {_overhead_ratio(r):.2f}",
        f"peak RSS {r['peak_rss_mb']:.0f} MB (before ingest {r['rss_before_ingest_mb']:.0f} MB)",
        "inside ingest:",
    ]
    for label, seconds in sorted(b.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {label:32s} {seconds:8.2f} s  ({r['calls'][label]} calls)")
    lines.append(f"  {'rest (parse, discover, ...)':32s} {r['other_s']:8.2f} s")
    return "\n".join(lines)


def doc_section(r: dict[str, Any]) -> str:
    b = r["breakdown_s"]
    embed = b.get("encode (inside ingest)", 0.0)
    write = b.get("store.write", 0.0)
    upsert = b.get("store._upsert", 0.0)
    delete = b.get("store._delete_children", 0.0)
    verdict = "meets" if r["ratio"] <= GOAL_RATIO else "misses"
    per_article_ms = 1000 * r["outside_encode_s"] / r["n"]
    kinds = "".join(
        f"| &nbsp;&nbsp;&nbsp;&nbsp;`{kind}` collection | {b[f'store._upsert[{kind}]']:.1f} | "
        f"{b[f'store._upsert[{kind}]'] / r['ingest_s']:.0%} |\n"
        for kind in ("sections", "sentences", "articles")
        if f"store._upsert[{kind}]" in b
    )
    return f"""
`python -m newsrag.eval.bench_ingest --n {r["n"]} --backend {r["backend"]}`, run on {r["date"]}.
Machine: {r["machine"]}. Embedding backend: {r["backend"]} ({r["embedder"]}).

Corpus: {r["n"]} synthetic articles from `eval.synth` (seed {r["seed"]}; 400-630 words, 3-6 glued
headlines each): {r["sections"]} section records and {r["sentences"]} sentence records, {r["texts"]} texts
embedded with the bundled all-MiniLM-L6-v2, batch size {r["batch_size"]}, into a fresh embedded Chroma.

| measure | value |
|---|---|
| ingest wall time (`ingest_paths`, model already loaded) | {r["ingest_s"]:.1f} s |
| `model.encode` alone, same texts, same batches | {r["encode_s"]:.1f} s |
| **ratio ingest / encode** (goal <= {GOAL_RATIO}) | **{r["ratio"]:.2f}** ({verdict} the goal) |
| ingest time outside `encode` (writes, parsing, ...) | {r["outside_encode_s"]:.1f} s ({per_article_ms:.1f} ms per article) |
| (encode alone + time outside encode) / encode alone | {_overhead_ratio(r):.2f} |
| articles/s | {r["articles_per_s"]:.2f} |
| sections/s | {r["sections_per_s"]:.1f} |
| sentences/s | {r["sentences_per_s"]:.1f} |
| peak RSS (whole process, VmHWM) | {r["peak_rss_mb"]:.0f} MB |
| process CPU time, ingest / encode alone | {r["ingest_cpu_s"]:.0f} s / {r["encode_cpu_s"]:.0f} s |
| load average (1/5/15 min) at start / end | {_load(r["load_start"])} / {_load(r["load_end"])} |

The encode-only time is the sum of {r["calls"]["encode (inside ingest)"]} `model.encode` calls, each made right
before or after (alternately) the ingest's own encode call for the same write batch and subtracted from the
ingest wall time, so that load from other processes on this shared machine hits both sides of the ratio
alike. The texts are derived independently (`parse_file` + `make_chunks` + sentence spans) and checked
equal to what ingest embeds.

Where the ingest time goes (wrapped calls inside the same run):

| step | seconds | share |
|---|---|---|
| encode (inside ingest) | {embed:.1f} | {embed / r["ingest_s"]:.0%} |
| `Store.write` total | {write:.1f} | {write / r["ingest_s"]:.0%} |
| &nbsp;&nbsp;of which `_upsert` (Chroma upserts) | {upsert:.1f} | {upsert / r["ingest_s"]:.0%} |
{kinds}| &nbsp;&nbsp;of which `_delete_children` | {delete:.1f} | {delete / r["ingest_s"]:.0%} |
| parse, discover, markers, rest | {r["other_s"]:.1f} | {r["other_s"] / r["ingest_s"]:.0%} |
{_memory_table(r.get("memory", []))}"""


def _memory_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"| {m['n']:,} | {m['sections'] + m['sentences']:,} | {m['rss_before_ingest_mb']:.0f} MB | {m['peak_rss_mb']:.0f} MB | "
        f"{m['peak_rss_mb'] - m['rss_before_ingest_mb']:.0f} MB | {m['store_resident_mb']:.0f} MB | "
        f"{m['peak_rss_mb'] - m['rss_before_ingest_mb'] - m['store_resident_mb']:.0f} MB | {m['articles_per_s']:.2f} |\n"
        for m in rows
    )
    return f"""
Peak memory against corpus size (`--memory N`: each N ingested by a fresh process, same backend; ingest
reads the inputs once to plan, keeping only ids and hashes, then re-reads and writes them a batch at a time).
"Store's index" is what a second fresh process adds to its memory by opening the finished store and
searching each collection once (Chroma keeps the store's vector index in the memory of every process that
reads it); the column after it is the rest of the growth, ingest's own working memory:

| articles | records | RSS before (model loaded) | peak RSS | growth in ingest | store's index | ingest's own | articles/s |
|---:|---:|---:|---:|---:|---:|---:|---:|
{body}"""


#: Run by :func:`store_resident_mb` in a fresh process: the RSS that opening a store and searching each of
#: its collections once adds (Chroma loads a collection's vector index on the first search).
_RESIDENT_PROBE = """
import json, sys
import chromadb
import numpy as np
from newsrag.eval.bench_ingest import rss_mb

base = rss_mb()
client = chromadb.PersistentClient(path=sys.argv[1])
rng = np.random.default_rng(0)
for listed in client.list_collections():
    col = client.get_collection(listed.name)
    if col.count():
        dim = len(col.peek(1)["embeddings"][0])
        col.query(query_embeddings=[rng.standard_normal(dim).astype(np.float32).tolist()], n_results=5)
print(json.dumps(rss_mb() - base))
"""


def store_resident_mb(chroma_dir: Path) -> float:
    """Memory (RSS, MB) that a fresh process adds by opening the embedded store in ``chroma_dir`` and
    searching each of its collections once."""
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-c", _RESIDENT_PROBE, str(chroma_dir)], check=True, capture_output=True, text=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def memory_curve(sizes: list[int], seed: int, backend: str | None) -> list[dict[str, Any]]:
    """Ingest each size in a fresh process (``ru_maxrss`` is per process) and collect its peak memory."""
    import json
    import subprocess

    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="newsrag-bench-memory-") as tmp:
            out = Path(tmp) / "r.json"
            cmd = [sys.executable, "-m", "newsrag.eval.bench_ingest", "--n", str(n), "--seed", str(seed), "--no-docs"]
            cmd += ["--json", str(out), "--keep", str(Path(tmp) / "kept")] + (["--backend", backend] if backend else [])
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            r = json.loads(out.read_text(encoding="utf-8"))
            resident = store_resident_mb(Path(tmp) / "kept" / "home" / "chroma")
        rows.append({k: r[k] for k in ("n", "sections", "sentences", "rss_before_ingest_mb", "peak_rss_mb", "articles_per_s")})
        rows[-1]["store_resident_mb"] = resident
        print(
            f"memory: N={n}: peak RSS {r['peak_rss_mb']:.0f} MB (before ingest {r['rss_before_ingest_mb']:.0f} MB); "
            f"the store's index in a fresh process {resident:.0f} MB",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Ingest throughput vs model.encode alone.")
    parser.add_argument("--n", type=int, default=1000, help="synthetic articles to ingest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the ingest call to this file")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temp folder)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--backend", choices=["onnx", "onnx-int8", "torch"], help="embedding backend (default: the setting's)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    parser.add_argument(
        "--memory", type=int, action="append", help="also ingest N articles in a fresh process, for peak memory (repeatable)"
    )
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    r = run(args.n, args.seed, args.profile, args.keep, args.backend)
    print(format_result(r))
    if args.memory:
        r["memory"] = memory_curve(sorted(set(args.memory)), args.seed, args.backend)
    if args.json:
        import json

        args.json.write_text(json.dumps(r, default=str), encoding="utf-8")
    if args.profile:
        print(f"\ncProfile of the ingest call ({args.profile}), top 25 by cumulative time:")
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(25)
    if not args.no_docs:
        write_doc_section("Ingest", doc_section(r))
        print(f"updated the Ingest section of {DOCS}")


if __name__ == "__main__":
    main()
