"""Train the quote scorer and the abstention model on the development split only, and write
``rag/data/scorer.json``.

``python -m newsrag.eval.train_scorer [--dataset eval/datasets/news/dev.jsonl] [--corpus eval/datasets/news/articles]``

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
from pathlib import Path
from typing import Any

import numpy as np

from ..rag.features import CANDIDATE_FEATURES, QUESTION_FEATURES, Context, candidate_features, outlets_named
from ..rag.question import analyze
from ..rag.scorer import SCORER_PATH
from .datasets import load_datasets, resolve_gold

__all__ = ["collect", "main"]

NEWS = Path(__file__).resolve().parent / "datasets" / "news"


def _commit(path: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", str(path)], capture_output=True, text=True, cwd=path.parent, check=True
        )
        return out.stdout.strip() or "uncommitted"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def collect(dataset: Path, corpus: list[Path], k: int | None = None) -> list[dict[str, Any]]:
    """Per question: candidate features, labels, and what the question model needs."""
    from ..ingest import ingest_paths
    from ..rag.chain import ChainInput, NewsragChain
    from ..rag.embed import make_embedder
    from ..rag.settings import Settings
    from ..rag.store import make_store

    home = Path(tempfile.mkdtemp(prefix="newsrag-train-"))
    try:
        settings = Settings(home=home, progress=False, _env_file=None)  # type: ignore[call-arg]
        embedder = make_embedder(settings)
        store = make_store(settings, model=embedder.name)
        report = ingest_paths(corpus, settings, store=store, embedder=embedder)
        assert report.ok, report.errors
        summaries = store.list_articles()
        articles = store.get_articles([a.id for a in summaries])
        items = load_datasets([dataset])
        resolved = resolve_gold(items, summaries, {i: a.text for i, a in articles.items()})
        chain = NewsragChain(settings, store, embedder)  # no scorer: the features, not the ranking, matter here
        sources = {a.source for a in summaries if a.source}
        out = []
        for r in resolved:
            inp = ChainInput.parse({"question": r.item.question, "history": r.item.history}, k or settings.top_k)
            ev = chain.gather(inp)
            info = analyze(ev.query)
            ctx = Context(info, ev.articles, ev.sections, ev.index, outlets_named(info, sources))
            feats = candidate_features(ctx, ev.candidates)
            labels = np.array(
                [
                    any(
                        c.record.article_id == s.article_id and c.record.start < s.end and s.start < c.record.end for s in r.spans
                    )
                    for c in ev.candidates
                ],
                dtype=bool,
            )
            out.append({"item": r.item, "ctx": ctx, "cands": ev.candidates, "feats": feats, "labels": labels})
        return out
    finally:
        shutil.rmtree(home, ignore_errors=True)


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
    from ..rag.features import question_features

    parser = argparse.ArgumentParser(prog="python -m newsrag.eval.train_scorer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=NEWS / "dev.jsonl")
    parser.add_argument("--corpus", type=Path, action="append", default=None)
    parser.add_argument("--out", type=Path, default=SCORER_PATH)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    if "test" in args.dataset.name:
        parser.error("the test split is for reporting only; train on the dev split")
    corpus = args.corpus or [NEWS / "articles"]
    rows = collect(args.dataset, corpus)
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

    payload = {
        "trained": dt.date.today().isoformat(),
        "dataset": str(args.dataset.name),
        "dataset_commit": _commit(args.dataset),
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
        "quote": _linear(quote_model, q_mean, q_scale, CANDIDATE_FEATURES),
        "answerable": _linear(ans_model, a_mean, a_scale, QUESTION_FEATURES),
        "abstain_below": round(best_t, 4),
        "keep_ratio": 0.6,
        "keep_floor": 0.3,
    }
    if args.out.exists():  # keep the selection knobs tuned on dev (see docs/benchmarks.md)
        old = json.loads(args.out.read_text(encoding="utf-8"))
        payload["keep_ratio"], payload["keep_floor"] = old.get("keep_ratio", 0.6), old.get("keep_floor", 0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(
        json.dumps({k: payload[k] for k in ("questions", "answerable_questions", "candidate_C", "cv", "abstain_below")}, indent=1)
    )
    print("quote weights:", dict(zip(CANDIDATE_FEATURES, np.round(quote_model.coef_[0], 3), strict=True)))
    print("answerable weights:", dict(zip(QUESTION_FEATURES, np.round(ans_model.coef_[0], 3), strict=True)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
