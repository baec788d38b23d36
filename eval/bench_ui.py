"""The browser app under load: 20 programs asking at once through ``gradio_client``.

``python -m newsrag.eval.bench_ui --clients 20 --rounds 3`` starts ``newsrag serve`` on a free 127.0.0.1 port with
a fresh temporary NEWSRAG_HOME (the first start ingests the bundled articles), warms it up with one
question, then runs ``--rounds`` rounds in which ``--clients`` separate ``gradio_client.Client``
instances each ask their own question from ``eval/datasets/newsrag_qa.jsonl`` at the same moment
(``/ask`` endpoint, through Gradio's queue). Every answer must be for its own question. Reported: the
latency p50/p95/max per request as a client sees it, throughput, the CPU time the server and the load
generator spend per answer, and the peak RSS of the server process tree (psutil, sampled every 50 ms).
Each client mode (:data:`CLIENT_MODES`) is measured on the same server, rounds alternating. The "UI
load" section of docs/benchmarks.md is replaced unless ``--no-docs``. Only 127.0.0.1 is contacted.
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
from .servers import tree_total

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
        total = int(tree_total(self.root, lambda proc: proc.memory_info().rss))
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


#: how the load generator's clients are made. ``stock``: ``gradio_client.Client(url)``, which builds two
#: httpx clients per request and each loads the system's CA bundle into a new SSL context (49 ms of CPU per
#: sequential request, measured; on this 2-core machine that CPU is taken from the server). ``no-verify``:
#: ``Client(url, ssl_verify=False)``, the same client without that load (the server is plain http on
#: 127.0.0.1, so nothing is verified either way); a browser user's client runs on their own machine.
CLIENT_MODES = {"stock": {}, "no-verify": {"ssl_verify": False}}


def _cpu_seconds(process: Any) -> float:
    """User + system CPU seconds of a process and its children (psutil)."""
    return tree_total(process, lambda proc: sum(proc.cpu_times()[:2]))


def run(
    clients: int, rounds: int, home: Path, backend: str | None = None, modes: list[str] | None = None
) -> list[dict[str, Any]]:
    """One server; for each client mode, ``rounds`` bursts of ``clients`` questions (the modes' rounds
    alternate, so that load from elsewhere hits them alike). One result per mode."""
    import os

    import psutil
    from gradio_client import Client

    from ..ui.app import ANSWER_CONCURRENCY
    from .servers import running_server

    modes = modes or list(CLIENT_MODES)
    asked = questions(clients)
    env = {"NEWSRAG_EMBEDDING_BACKEND": backend} if backend else {}
    if os.environ.get("NEWSRAG_MODELS_DIR"):
        env["NEWSRAG_MODELS_DIR"] = os.environ["NEWSRAG_MODELS_DIR"]
    with running_server(home, env=env) as server:
        t = time.perf_counter()
        first = Client(server.url, verbose=False).predict(asked[0], api_name="/ask")
        cold_ms = (time.perf_counter() - t) * 1000
        assert first["question"] == asked[0], first["question"]
        conns = {m: [Client(server.url, verbose=False, **CLIENT_MODES[m]) for _ in range(clients)] for m in modes}
        stats: dict[str, dict[str, Any]] = {
            m: {"latencies": [], "wrong": [], "errors": [], "wall": 0.0, "server_cpu": 0.0, "client_cpu": 0.0} for m in modes
        }
        start = threading.Barrier(clients)
        server_process, me = psutil.Process(server.process.pid), psutil.Process()

        def one(mode: str, i: int) -> None:
            start.wait()
            t0 = time.perf_counter()
            try:
                got = conns[mode][i].predict(asked[i], api_name="/ask")
            except Exception as e:  # reported, not raised: the run counts them
                stats[mode]["errors"].append(f"{asked[i]!r}: {type(e).__name__}: {e}")
                return
            stats[mode]["latencies"].append((time.perf_counter() - t0) * 1000)
            if got.get("question") != asked[i]:
                stats[mode]["wrong"].append(f"asked {asked[i]!r}, got the answer to {got.get('question')!r}")

        with RssSampler(server.process.pid) as rss:
            idle_mb = rss.sample() / 2**20
            for _ in range(rounds):
                for mode in modes:
                    start.reset()
                    cpu = _cpu_seconds(server_process), _cpu_seconds(me)
                    wall = time.perf_counter()
                    with ThreadPoolExecutor(max_workers=clients) as pool:
                        list(pool.map(lambda i, m=mode: one(m, i), range(clients)))
                    stats[mode]["wall"] += time.perf_counter() - wall
                    stats[mode]["server_cpu"] += _cpu_seconds(server_process) - cpu[0]
                    stats[mode]["client_cpu"] += _cpu_seconds(me) - cpu[1]
    results = []
    for mode in modes:
        got = stats[mode]
        latencies = got["latencies"]
        if not latencies:
            raise SystemExit(f"no request succeeded ({mode} clients):\n" + "\n".join(got["errors"][:5]))
        results.append(
            {
                "clients": clients,
                "rounds": rounds,
                "requests": clients * rounds,
                "ok": len(latencies),
                "wrong": got["wrong"],
                "errors": got["errors"],
                "cold_first_ms": cold_ms,
                "p50_ms": _percentile(latencies, 50),
                "p95_ms": _percentile(latencies, 95),
                "max_ms": max(latencies),
                "wall_s": got["wall"],
                "throughput_rps": len(latencies) / got["wall"],
                "server_cpu_ms": got["server_cpu"] / len(latencies) * 1000,
                "client_cpu_ms": got["client_cpu"] / len(latencies) * 1000,
                "idle_rss_mb": idle_mb,
                "peak_rss_mb": rss.peak / 2**20,
                "concurrency": ANSWER_CONCURRENCY,
                "backend": backend or "default",
                "client": mode,
            }
        )
    return results


ROWS = (
    ("latency p50 (client side)", lambda r: f"{r['p50_ms']:.0f} ms"),
    ("latency p95", lambda r: f"{r['p95_ms']:.0f} ms"),
    ("latency max", lambda r: f"{r['max_ms']:.0f} ms"),
    ("throughput", lambda r: f"{r['throughput_rps']:.1f} answers/s"),
    ("CPU per answer: server / load generator", lambda r: f"{r['server_cpu_ms']:.1f} ms / {r['client_cpu_ms']:.1f} ms"),
    ("first answer after the server is up", lambda r: f"{r['cold_first_ms']:.0f} ms"),
    ("server RSS before the load / peak during it", lambda r: f"{r['idle_rss_mb']:.0f} MB / {r['peak_rss_mb']:.0f} MB"),
    ("answers for the wrong question / errors", lambda r: f"{len(r['wrong'])} / {len(r['errors'])}"),
)


def report(results: list[dict[str, Any]]) -> str:
    """One column per embedding backend and client mode."""
    r = results[0]
    head = (
        "| metric | "
        + " | ".join(f"`{x['backend']}`, {x['client']} clients" for x in results)
        + " |\n|---|"
        + "---:|" * len(results)
        + "\n"
    )
    rows = "".join(f"| {label} | " + " | ".join(cell(x) for x in results) + " |\n" for label, cell in ROWS)
    return (
        f"{r['clients']} concurrent `gradio_client` clients × {r['rounds']} rounds = {r['requests']} `/ask` "
        f"requests per column, each client its own question from `eval/datasets/newsrag_qa.jsonl`, against "
        f"`newsrag serve` (bundled articles, extractive answerer; the server answers "
        f"{r['concurrency']} at a time, the rest wait in Gradio's queue), one server per embedding backend "
        "(NEWSRAG_EMBEDDING_BACKEND), each started fresh; the client modes' rounds alternate on it. "
        "`stock` clients are `gradio_client.Client(url)`; `no-verify` clients are `Client(url, ssl_verify=False)`, "
        "which skips loading the CA bundle into a new SSL context twice per request (the server is plain "
        "http on 127.0.0.1). The load generator runs on the server's 2 cores, so its CPU is the server's loss. "
        '"First answer" is timed from the moment the server answers HTTP (its start message) to the first '
        "answer.\n\n" + head + rows
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
    parser.add_argument(
        "--client", action="append", choices=list(CLIENT_MODES), help="client mode(s) (default: all; see CLIENT_MODES)"
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
            results.extend(run(args.clients, args.rounds, home, backend, args.client))
        print(report(results[-len(args.client or CLIENT_MODES) :]), flush=True)
    load_end = os.getloadavg()
    text = report(results)
    print(text)
    problems = [line for r in results for line in r["wrong"] + r["errors"]]
    for line in problems:
        print(f"problem: {line}", file=sys.stderr)
    if not args.no_docs:
        backends = "".join(f" --backend {b}" for b in args.backend or []) + "".join(f" --client {c}" for c in args.client or [])
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
