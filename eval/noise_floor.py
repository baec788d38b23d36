"""How far answers move when the vectors move a little: the noise floor for comparing embedding backends.

Issue 12's rule lets a backend be the default only if its answers are within one question of torch's on
every eval set. Any vectors that are not torch's own move some answers. This measures how many questions
move under a random perturbation the size of the backend's error, so that a backend's differences can be
read against it:

    python -m newsrag.eval.noise_floor --seeds 5 --sigma 0.0065 --backend onnx-int8

For every eval set (ingested afresh each run), it runs the chain three ways:

* with the configured backend's exact vectors;
* once per seed with every vector perturbed: Gaussian noise of ``sigma`` per dimension, seeded by the
  seed and the text, then normalised again. A text always gets the same vector, in the store and in a
  question. Sigma 0.0065 gives a mean cosine of 0.992 in 384 dimensions, about int8's;
* with ``--backend``, if given.

It then prints each run's difference from the exact run, in questions: answer hits, first-citation hits,
abstentions on unanswerable questions, and false abstentions on answerable ones. The figures in
docs/benchmarks.md ("Embedding backends: answer quality") come from this script's method.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..rag.embed import Embedder, make_embedder, release_batch_memory
from ..rag.settings import BUNDLED_ARTICLES, Settings, get_settings
from .runner import SYSTEM, EvalReport, run_eval

__all__ = ["Perturbed", "SETS", "outcome_deltas", "main"]

_EVAL = Path(__file__).resolve().parent / "datasets"
_OLD = [BUNDLED_ARTICLES, Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus"]
#: name: (questions, corpus)
SETS: dict[str, tuple[Path, list[Path]]] = {
    "news/test2": (_EVAL / "news" / "test2.jsonl", [_EVAL / "news" / "articles"]),
    "news/test": (_EVAL / "news" / "test.jsonl", [_EVAL / "news" / "articles"]),
    "news/dev": (_EVAL / "news" / "dev.jsonl", [_EVAL / "news" / "articles"]),
    "newsrag_qa": (_EVAL / "newsrag_qa.jsonl", _OLD),
    "heldout_qa": (_EVAL / "heldout_qa.jsonl", _OLD),
}


class Perturbed:
    """An embedder's vectors plus seeded Gaussian noise: the same text always gets the same vector."""

    def __init__(self, inner: Embedder, seed: int, sigma: float) -> None:
        self.inner = inner
        self.name = inner.name  # the same model identity: the store is built and read by this wrapper alone
        self.seed = seed
        self.sigma = sigma

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def release_batch_memory(self) -> None:
        release_batch_memory(self.inner)

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.array(self.inner.encode(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            digest = hashlib.sha256(f"{self.seed}:{text}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            moved = vectors[i] + self.sigma * np.asarray(rng.standard_normal(vectors.shape[1]), dtype=np.float32)
            vectors[i] = moved / np.linalg.norm(moved)
        return vectors


@dataclass(frozen=True)
class Deltas:
    """A run against the exact one, in questions."""

    hit: int
    first: int
    abstention: int
    false_abstention: int
    moved: int  #: questions whose outcome (hit, first, abstained) changed either way

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return (self.hit, self.first, self.abstention, self.false_abstention)

    def cell(self) -> str:
        return " / ".join(f"{n:+d}" for n in self.counts)


def _outcomes(report: EvalReport) -> dict[str, tuple[bool, bool, bool, bool]]:
    system = report.systems[SYSTEM]
    return {
        q.item.id: (q.item.answerable, bool(q.verdict.answer_hit), bool(q.verdict.first_citation_hit), q.answer.abstained)
        for q in system.questions
    }


def outcome_deltas(exact: EvalReport, other: EvalReport) -> Deltas:
    base, run = _outcomes(exact), _outcomes(other)
    if base.keys() != run.keys():
        raise ValueError("the two reports are not of the same questions")
    hit = first = abstention = false_abstention = moved = 0
    for key, (answerable, h, f, a) in run.items():
        _, bh, bf, ba = base[key]
        moved += (h, f, a) != (bh, bf, ba)
        if answerable:
            hit += h - bh
            first += f - bf
            false_abstention += a - ba
        else:
            abstention += a - ba
    return Deltas(hit, first, abstention, false_abstention, moved)


def _run(name: str, settings: Settings, embedder: Embedder | None = None) -> EvalReport:
    questions, corpus = SETS[name]
    return run_eval([questions], corpus, settings, embedder=embedder)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--seeds", type=int, default=5, help="perturbed runs per set")
    ap.add_argument("--sigma", type=float, default=0.0065, help="noise per dimension (0.0065: cosine ~0.992)")
    ap.add_argument("--backend", help="also run this NEWSRAG_EMBEDDING_BACKEND (e.g. onnx-int8) against the exact run")
    ap.add_argument("--set", dest="sets", action="append", choices=sorted(SETS), help="only these sets (repeatable)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = get_settings().model_copy(update={"progress": False})
    runs = [f"seed {s}" for s in range(1, args.seeds + 1)] + ([f"`{args.backend}`"] if args.backend else [])
    pooled = {r: np.zeros(4, dtype=int) for r in runs}
    print(
        f"answer hit / first citation / abstention / false abstention, in questions, against the exact vectors "
        f"(sigma {args.sigma}); in brackets: questions whose outcome moved"
    )
    print("\n| set | " + " | ".join(runs) + " |\n|---|" + "---|" * len(runs))
    for name in args.sets or list(SETS):
        exact = _run(name, settings)
        cells = []
        for seed in range(1, args.seeds + 1):
            noisy = Perturbed(make_embedder(settings), seed, args.sigma)
            d = outcome_deltas(exact, _run(name, settings, noisy))
            pooled[f"seed {seed}"] += d.counts
            cells.append(f"{d.cell()} ({d.moved})")
        if args.backend:
            other = settings.model_copy(update={"embedding_backend": args.backend})
            d = outcome_deltas(exact, _run(name, other))
            pooled[runs[-1]] += d.counts
            cells.append(f"{d.cell()} ({d.moved})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print("| pooled | " + " | ".join(" / ".join(f"{int(v):+d}" for v in pooled[r]) for r in runs) + " |")


if __name__ == "__main__":
    main()
