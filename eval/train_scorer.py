"""Train the quote scorer and the abstention model on the development split only, and write
``rag/data/scorer.json``.

``python -m newsrag.eval.train_scorer`` trains on the development data: the news dev split over the news
corpus, and the first shipped set (``newsrag_qa.jsonl``, the one the hand weights were tuned on) over the
bundled article and the fixture corpus, so that the scorer serves both kinds of corpus. ``--dataset`` and
``--corpus`` (repeatable) replace them. The held-out sets (``news/test.jsonl``, ``news/test2.jsonl``,
``news/test3.jsonl``, ``heldout_qa.jsonl``) are never read.

1. The corpus is ingested into a temporary store with the bundled model; every dev question goes through
   the chain's retrieval (``chain.gather``), so the features are exactly those the chain computes.
2. Candidate model: logistic regression, label = the sentence overlaps a gold string. The regularisation
   is chosen by 5-fold cross-validation grouped by question (top-1 hit rate on held-out questions).
3. Abstention model: logistic regression over question features, label = answerable, trained on the
   candidate model's out-of-fold probabilities (so it sees scores like those of unseen questions).
   ``abstain_below`` is the highest threshold whose out-of-fold false abstention stays at most 3%.
The test split is never read. scikit-learn is a training-time tool; the chain only needs numpy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..rag.features import CANDIDATE_FEATURES, QUESTION_FEATURES, Context, candidate_features, outlets_named
from ..rag.question import analyze
from ..rag.scorer import SCORER_PATH, Linear, Scorer
from .datasets import load_datasets, resolve_gold
from .metrics import overlaps

__all__ = ["collect", "main"]

NEWS = Path(__file__).resolve().parent / "datasets" / "news"
REPO = Path(__file__).resolve().parent.parent
HELD_OUT = {"test.jsonl", "test2.jsonl", "test3.jsonl", "heldout_qa.jsonl"}
#: Quoted characters per answer with the learned scorer: the issue's reader budget.
MAX_CHARS = 600


def _commit(path: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", str(path)], capture_output=True, text=True, cwd=path.parent, check=True
        )
        return out.stdout.strip() or "uncommitted"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass
class Bench:
    """The dev questions over a store of the corpus, and the chain (without a scorer) that reads it."""

    chain: Any
    resolved: list[Any]
    texts: dict[str, str]
    sources: set[str]


@contextmanager
def bench(datasets: list[Path], corpus: list[Path], home: Path | None = None) -> Iterator[Bench]:
    """Ingest ``corpus`` into ``home`` (or a temporary store, removed afterwards) and resolve the gold."""
    from ..ingest import ingest_paths
    from ..rag.chain import NewsragChain
    from ..rag.embed import make_embedder
    from ..rag.settings import Settings
    from ..rag.store import make_store

    scratch = home is None
    home = home or Path(tempfile.mkdtemp(prefix="newsrag-train-"))
    try:
        settings = Settings(home=home, progress=False, _env_file=None)  # type: ignore[call-arg]
        embedder = make_embedder(settings)
        store = make_store(settings, model=embedder.name)
        report = ingest_paths(corpus, settings, store=store, embedder=embedder)
        if not report.ok:
            raise SystemExit(f"the corpus did not ingest cleanly: {report.errors[:3]}")
        summaries = store.list_articles()
        articles = store.get_articles([a.id for a in summaries])
        texts = {i: a.text for i, a in articles.items()}
        resolved = resolve_gold(load_datasets(datasets), summaries, texts)
        chain = NewsragChain(settings, store, embedder)  # no scorer: features are computed from raw evidence
        yield Bench(chain, resolved, texts, {a.source for a in summaries if a.source})
    finally:
        if scratch:
            shutil.rmtree(home, ignore_errors=True)


def collect(b: Bench) -> list[dict[str, Any]]:
    """Per question: candidate features, labels (overlaps gold), and what the question model needs."""
    from ..rag.chain import ChainInput

    out = []
    for r in b.resolved:
        inp = ChainInput.parse({"question": r.item.question, "history": r.item.history}, b.chain.settings.top_k)
        ev = b.chain.gather(inp)
        info = analyze(ev.query)
        ctx = Context(info, ev.articles, ev.sections, ev.index, outlets_named(info, b.sources))
        feats = candidate_features(ctx, ev.candidates)
        labels = np.array(
            [any(overlaps(c.record, s) for s in r.spans) for c in ev.candidates],
            dtype=bool,
        )
        out.append({"item": r.item, "ctx": ctx, "cands": ev.candidates, "feats": feats, "labels": labels})
    return out


def tune_selection(b: Bench, scorer: Scorer) -> tuple[float, float, dict[str, Any]]:
    """The (keep_ratio, keep_floor) that serve dev readers best: most answer hits and first-citation hits,
    then precision, within :data:`MAX_CHARS` quoted characters per answer (the chain enforces it)."""
    from ..rag.chain import NewsragChain
    from .metrics import judge, summarize

    best: tuple[float, float, float, dict[str, Any]] = (-1.0, 0.6, 0.3, {})
    for ratio in (0.3, 0.45, 0.6, 0.75, 0.9):
        for floor in (0.1, 0.2):
            trial = replace(scorer, keep_ratio=ratio, keep_floor=floor)
            chain = NewsragChain(b.chain.settings, b.chain.store, b.chain.embedder, scorer=trial)
            verdicts = [
                judge(chain.invoke({"question": r.item.question, "history": r.item.history}), r, b.texts) for r in b.resolved
            ]
            m = summarize(verdicts)
            value = (m.answer_hit or 0) + (m.first_citation_hit or 0) + 0.5 * (m.citation_precision or 0)
            if value > best[0]:
                best = (
                    value,
                    ratio,
                    floor,
                    m.model_dump(
                        include={
                            "answer_hit",
                            "first_citation_hit",
                            "citation_precision",
                            "quoted_chars",
                            "abstention",
                            "false_abstention",
                        }
                    ),
                )
    return best[1], best[2], best[3]


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit((x - mean) / scale, y)
    return model, mean, scale


def _linear(model: Any, mean: np.ndarray, scale: np.ndarray, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "features": list(names),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "weights": model.coef_[0].tolist(),
        "bias": float(model.intercept_[0]),
    }


def _probs(model: Any, mean: np.ndarray, scale: np.ndarray, x: np.ndarray) -> np.ndarray:
    return model.predict_proba((x - mean) / scale)[:, 1] if len(x) else np.zeros(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m newsrag.eval.train_scorer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, action="append", default=None)
    parser.add_argument("--corpus", type=Path, action="append", default=None)
    parser.add_argument("--out", type=Path, default=SCORER_PATH)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--home", type=Path, help="reuse (and update) the store in this NEWSRAG_HOME")
    args = parser.parse_args(argv)
    datasets = args.dataset or [NEWS / "dev.jsonl", NEWS.parent / "newsrag_qa.jsonl"]
    if any(d.name in HELD_OUT for d in datasets):
        parser.error("the test split and the held-out set are for reporting only; train on development data")
    corpus = args.corpus or [NEWS / "articles", REPO / "data" / "articles", REPO / "tests" / "fixtures" / "corpus"]
    args.datasets = datasets
    with bench(datasets, corpus, args.home) as b:
        train(b, args)


def train(b: Bench, args: argparse.Namespace) -> None:
    from ..rag.features import question_features

    rows = collect(b)
    answerable = [r for r in rows if r["item"].answerable and len(r["cands"])]
    rng = np.random.default_rng(0)
    fold_of = {id(r): int(f) for r, f in zip(rows, rng.integers(0, args.folds, len(rows)), strict=True)}

    # -- candidate model: C by grouped cross-validation (top-1 hit on held-out questions) -------------
    def top1(c: float) -> tuple[float, dict[int, np.ndarray]]:
        hits, oof = 0, {}
        for f in range(args.folds):
            train = [r for r in answerable if fold_of[id(r)] != f]
            x = np.vstack([r["feats"] for r in train])
            y = np.concatenate([r["labels"] for r in train])
            model, mean, scale = _fit(x, y, c)
            for r in rows:
                if fold_of[id(r)] == f:
                    p = _probs(model, mean, scale, r["feats"])
                    oof[id(r)] = p
                    if r in answerable and len(p):
                        hits += bool(r["labels"][int(np.argmax(p))])
        return hits / max(len(answerable), 1), oof

    results = {c: top1(c) for c in (0.03, 0.1, 0.3, 1.0, 3.0)}
    best_c = max(results, key=lambda c: results[c][0])
    cv_top1, oof = results[best_c]
    x_all = np.vstack([r["feats"] for r in answerable])
    y_all = np.concatenate([r["labels"] for r in answerable])
    quote_model, q_mean, q_scale = _fit(x_all, y_all, best_c)
    oracle = sum(bool(r["labels"].any()) for r in answerable) / max(len(answerable), 1)

    # -- question model on out-of-fold candidate probabilities ----------------------------------------
    qx = np.vstack([question_features(r["ctx"], r["cands"], r["feats"], oof[id(r)]) for r in rows])
    qy = np.array([r["item"].answerable for r in rows])
    q_oof = np.zeros(len(rows))
    for f in range(args.folds):
        mask = np.array([fold_of[id(r)] == f for r in rows])
        model, mean, scale = _fit(qx[~mask], qy[~mask], 1.0)
        q_oof[mask] = _probs(model, mean, scale, qx[mask])
    ans_model, a_mean, a_scale = _fit(qx, qy, 1.0)
    best_t, best_abst = 0.0, 0.0
    for t in np.linspace(0.05, 0.95, 91):
        false_abst = float(np.mean(q_oof[qy] < t)) if qy.any() else 0.0
        abst = float(np.mean(q_oof[~qy] < t)) if (~qy).any() else 0.0
        if false_abst <= 0.03 and abst >= best_abst:
            best_t, best_abst = float(t), abst
    false_at_t = float(np.mean(q_oof[qy] < best_t))

    quote_json = _linear(quote_model, q_mean, q_scale, CANDIDATE_FEATURES)
    answerable_json = _linear(ans_model, a_mean, a_scale, QUESTION_FEATURES)
    payload: dict[str, Any] = {
        "trained": dt.date.today().isoformat(),
        "datasets": [d.name for d in args.datasets],
        "dataset_commits": [_commit(d) for d in args.datasets],
        "questions": len(rows),
        "answerable_questions": int(qy.sum()),
        "candidate_C": best_c,
        "cv": {
            "top1_hit_by_C": {str(c): round(v[0], 4) for c, v in results.items()},
            "top1_hit": round(cv_top1, 4),
            "gold_among_candidates": round(oracle, 4),
            "abstention_at_threshold": round(best_abst, 4),
            "false_abstention_at_threshold": round(false_at_t, 4),
        },
        "quote": quote_json,
        "answerable": answerable_json,
        "abstain_below": round(best_t, 4),
        "keep_ratio": 0.6,
        "keep_floor": 0.3,
        "max_chars": MAX_CHARS,
    }
    scorer = Scorer(
        quote=Linear.from_json(quote_json, CANDIDATE_FEATURES, "training"),
        answerable=Linear.from_json(answerable_json, QUESTION_FEATURES, "training"),
        abstain_below=round(best_t, 4),
        keep_ratio=0.6,
        keep_floor=0.3,
        max_chars=MAX_CHARS,
    )
    ratio, floor, dev_metrics = tune_selection(b, scorer)
    payload["keep_ratio"], payload["keep_floor"] = ratio, floor
    payload["dev_metrics_in_sample"] = dev_metrics
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                k: payload[k]
                for k in (
                    "questions",
                    "answerable_questions",
                    "candidate_C",
                    "cv",
                    "abstain_below",
                    "keep_ratio",
                    "keep_floor",
                    "dev_metrics_in_sample",
                )
            },
            indent=1,
        )
    )
    print("quote weights:", dict(zip(CANDIDATE_FEATURES, np.round(quote_model.coef_[0], 3), strict=True)))
    print("answerable weights:", dict(zip(QUESTION_FEATURES, np.round(ans_model.coef_[0], 3), strict=True)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
