"""The browser app under load: 20 programs asking at once through ``gradio_client``.

``python -m newsrag.eval.bench_ui --clients 20 --rounds 3`` starts ``newsrag serve`` on a free 127.0.0.1 port with
a fresh temporary NEWSRAG_HOME (the first start ingests the bundled articles), warms it up with one
question, then runs ``--rounds`` rounds in which ``--clients`` separate ``gradio_client.Client``
instances each ask their own question from ``eval/datasets/newsrag_qa.jsonl`` at the same moment
(``/ask`` endpoint, through Gradio's queue). Every answer must be for its own question. Reported: the
latency p50/p95/max per request as a client sees it, throughput, and the peak RSS of the server process
tree (psutil, sampled every 50 ms). The "UI load" section of docs/benchmarks.md is replaced unless
``--no-docs``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .bench_ingest import DOCS, machine, write_doc_section

__all__ = ["questions", "RssSampler", "run", "main"]

DATASET = Path(__file__).resolve().parent / "datasets" / "newsrag_qa.jsonl"
MAX_CLIENTS = 64


def questions(n: int, path: Path = DATASET) -> list[str]:
    """``n`` different stand-alone questions from the dataset, in file order."""
    seen: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        q = item["question"]
        if not item.get("history") and q not in seen:
            seen.append(q)
        if len(seen) == n:
            return seen
    raise SystemExit(f"{path} has only {len(seen)} different stand-alone questions; asked for {n}")


class RssSampler:
    """Peak resident memory of a process and its children, sampled in a background thread."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        import psutil

        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        self.peak = max(self.peak, total)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def run(clients: int, rounds: int, home: Path, backend: str | None = None) -> dict[str, Any]:
    import os

    from gradio_client import Client

    from ..ui.app import ANSWER_CONCURRENCY
    from .servers import running_server

    asked = questions(clients)
    env = {"NEWSRAG_EMBEDDING_BACKEND": backend} if backend else {}
    if os.environ.get("NEWSRAG_MODELS_DIR"):
        env["NEWSRAG_MODELS_DIR"] = os.environ["NEWSRAG_MODELS_DIR"]
    with running_server(home, env=env) as server:
        t = time.perf_counter()
        first = Client(server.url, verbose=False).predict(asked[0], api_name="/ask")
        cold_ms = (time.perf_counter() - t) * 1000
        assert first["question"] == asked[0], first["question"]
        conns = [Client(server.url, verbose=False) for _ in range(clients)]
        latencies: list[float] = []
        wrong: list[str] = []
        errors: list[str] = []
        start = threading.Barrier(clients)

        def one(i: int) -> None:
            start.wait()
            t0 = time.perf_counter()
            try:
                got = conns[i].predict(asked[i], api_name="/ask")
            except Exception as e:  # reported, not raised: the run counts them
                errors.append(f"{asked[i]!r}: {type(e).__name__}: {e}")
                return
            latencies.append((time.perf_counter() - t0) * 1000)
            if got.get("question") != asked[i]:
                wrong.append(f"asked {asked[i]!r}, got the answer to {got.get('question')!r}")

        with RssSampler(server.process.pid) as rss:
            idle_mb = rss.sample() / 2**20
            wall = time.perf_counter()
            for _ in range(rounds):
                start.reset()
                with ThreadPoolExecutor(max_workers=clients) as pool:
                    list(pool.map(one, range(clients)))
            wall = time.perf_counter() - wall
    if not latencies:
        raise SystemExit("no request succeeded:\n" + "\n".join(errors[:5]))
    return {
        "clients": clients,
        "rounds": rounds,
        "requests": clients * rounds,
        "ok": len(latencies),
        "wrong": wrong,
        "errors": errors,
        "cold_first_ms": cold_ms,
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "max_ms": max(latencies),
        "wall_s": wall,
        "throughput_rps": len(latencies) / wall,
        "idle_rss_mb": idle_mb,
        "peak_rss_mb": rss.peak / 2**20,
        "concurrency": ANSWER_CONCURRENCY,
        "backend": backend or "default",
    }


ROWS = (
    ("latency p50 (client side)", lambda r: f"{r['p50_ms']:.0f} ms"),
    ("latency p95", lambda r: f"{r['p95_ms']:.0f} ms"),
    ("latency max", lambda r: f"{r['max_ms']:.0f} ms"),
    ("throughput", lambda r: f"{r['throughput_rps']:.1f} answers/s"),
    ("first answer after the server is up", lambda r: f"{r['cold_first_ms']:.0f} ms"),
    ("server RSS before the load / peak during it", lambda r: f"{r['idle_rss_mb']:.0f} MB / {r['peak_rss_mb']:.0f} MB"),
    ("answers for the wrong question / errors", lambda r: f"{len(r['wrong'])} / {len(r['errors'])}"),
)


def report_many(results: list[dict[str, Any]]) -> str:
    """One column per embedding backend."""
    r = results[0]
    head = "| metric | " + " | ".join(f"`{x['backend']}`" for x in results) + " |\n|---|" + "---:|" * len(results) + "\n"
    rows = "".join(f"| {label} | " + " | ".join(cell(x) for x in results) + " |\n" for label, cell in ROWS)
    return (
        f"{r['clients']} concurrent `gradio_client` clients × {r['rounds']} rounds = {r['requests']} `/ask` "
        f"requests, each client its own question from `eval/datasets/newsrag_qa.jsonl`, against "
        f"`newsrag serve` (bundled articles, extractive answerer; the server answers "
        f"{r['concurrency']} at a time, the rest wait in Gradio's queue), one server per embedding backend "
        '(NEWSRAG_EMBEDDING_BACKEND), each started fresh. "First answer" is timed from the moment the server '
        "answers HTTP (its start message) to the first answer.\n\n" + head + rows
    )


def report(r: dict[str, Any]) -> str:
    return (
        f"{r['clients']} concurrent `gradio_client` clients × {r['rounds']} rounds = {r['requests']} `/ask` "
        f"requests, each client its own question from `eval/datasets/newsrag_qa.jsonl`, against "
        f"`newsrag serve` (bundled articles, extractive answerer; the server answers "
        f"{r['concurrency']} at a time, the rest wait in Gradio's queue).\n\n"
        "| metric | value |\n| --- | --- |\n"
        f"| latency p50 (client side) | {r['p50_ms']:.0f} ms |\n"
        f"| latency p95 | {r['p95_ms']:.0f} ms |\n"
        f"| latency max | {r['max_ms']:.0f} ms |\n"
        f"| throughput | {r['throughput_rps']:.1f} answers/s |\n"
        f"| first question after start | {r['cold_first_ms']:.0f} ms |\n"
        f"| server RSS before the load / peak during it | {r['idle_rss_mb']:.0f} MB / {r['peak_rss_mb']:.0f} MB |\n"
        f"| answers for the wrong question / errors | {len(r['wrong'])} / {len(r['errors'])} |\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsrag.eval.bench_ui", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one question per client (default 3)")
    parser.add_argument("--home", type=Path, help="NEWSRAG_HOME for the server (default: a temporary folder)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--backend", action="append", choices=["onnx", "onnx-int8", "torch"], help="embedding backend(s), one server each"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.rounds <= 20:
        parser.error(f"--clients must be 1..{MAX_CLIENTS} and --rounds 1..20")
    import os

    results = []
    load_start = os.getloadavg()
    for backend in args.backend or [None]:
        with tempfile.TemporaryDirectory(prefix="newsrag-bench-ui-") as tmp:
            home = args.home / (backend or "default") if args.home else Path(tmp) / "home"
            results.append(run(args.clients, args.rounds, home, backend))
        print(report(results[-1]), flush=True)
    load_end = os.getloadavg()
    text = report_many(results)
    print(text)
    problems = [line for r in results for line in r["wrong"] + r["errors"]]
    for line in problems:
        print(f"problem: {line}", file=sys.stderr)
    if not args.no_docs:
        backends = "".join(f" --backend {b}" for b in args.backend or [])
        load = " / ".join("/".join(f"{x:.2f}" for x in avg) for avg in (load_start, load_end))
        body = (
            text + f"\nMeasured {dt.date.today().isoformat()} with `python -m newsrag.eval.bench_ui --clients "
            f"{args.clients} --rounds {args.rounds}{backends}` on {machine()}; load average (1/5/15 min) at start / end: "
            f"{load}.\n"
        )
        write_doc_section("UI load", body, DOCS)
        print(f"updated the 'UI load' section of {DOCS}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
