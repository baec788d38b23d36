"""Train the question adapter (``rag/adapter.py``) on the development questions only, and write
``rag/data/adapter.json`` and the matrix beside it.

``python -m newsrag.eval.train_adapter`` reads four development sets, each over its corpus: news/dev,
news/dev2 and news/dev3 over the news corpus, newsrag_qa over the bundled article and the fixture corpus.
The held-out sets (news/test*, heldout_qa) are never read.

1. Each corpus is ingested into a temporary store with the bundled model. Every question goes through the
   default chain's retrieval with the adapter off. The sentences the chain scores are kept with the parts
   of their hand score that the adapter does not touch (their section's similarity, their word overlap),
   and a label: the sentence overlaps a gold string.
2. ``A`` (``dim x dim``, from zero) minimises the softmax loss of the gold sentences among each question's
   scored sentences, where the sentence term of the hand score reads ``q + A q`` (normalised): full-batch
   Adam, :data:`STEPS` steps at :data:`LEARNING_RATE`, temperature :data:`TEMPERATURE`, L2 :data:`L2`.
3. Leave one set out: trained on the others, how often the gold sentence scores best on the one left out,
   against the hand scores; the figures go into the JSON. These settings and the blend (:data:`BLEND`)
   were chosen on those leave-one-set-out figures and on the whole chain's dev answers (docs/benchmarks.md,
   round 12).

torch is a training-time tool here (it comes with sentence-transformers); the chain needs only numpy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..rag.adapter import ADAPTER_PATH
from ..rag.quote import PARAMS
from .metrics import overlaps
from .train_scorer import NEWS, REPO, _commit, bench

__all__ = ["collect", "fit", "main"]

#: the development sets and the corpus each is asked over
SETS = {
    "news/dev": (NEWS / "dev.jsonl", [NEWS / "articles"]),
    "news/dev2": (NEWS / "dev2.jsonl", [NEWS / "articles"]),
    "news/dev3": (NEWS / "dev3.jsonl", [NEWS / "articles"]),
    "newsrag_qa": (NEWS.parent / "newsrag_qa.jsonl", [REPO / "data" / "articles", REPO / "tests" / "fixtures" / "corpus"]),
}
STEPS = 20
LEARNING_RATE = 0.01
TEMPERATURE = 0.1
L2 = 0.01
#: share of the sentence weight read through the adapter (0.25, 0.5, 0.75 and 1 measured on dev)
BLEND = 0.75


def collect(chain: Any, resolved: list[Any]) -> list[dict[str, Any]]:
    """Per answerable question with a gold sentence among those scored: the question's vectors (its own
    turn too, for a follow-up), the scored sentences' vectors, section similarities, word overlaps and labels."""
    from ..rag.chain import ChainInput
    from ..rag.quote import score_sentences

    seen: dict[str, Any] = {}
    plain = type(chain)._score

    def spy(self: Any, qvec: Any, vectors: Any, query: str, turn: str, sentences: Any, sections: Any, index: Any) -> Any:
        seen.update(vectors=vectors if turn != query else vectors[:1], sentences=sentences, sections=sections)
        heads = {f.chunk_id: f.heading for f in sections}
        seen["lexical"] = [
            {c.record.id: c.lexical for c in score_sentences(v, text, sentences, sections, index, heads)}
            for v, text in zip(seen["vectors"], (query, turn), strict=False)
        ]
        return plain(self, qvec, vectors, query, turn, sentences, sections, index)

    chain._score = spy.__get__(chain)
    rows = []
    for r in resolved:
        if not r.item.answerable:
            continue
        chain.gather(ChainInput.parse({"question": r.item.question, "history": r.item.history}, chain.settings.top_k))
        sentences = seen["sentences"]
        labels = np.array(
            [any(overlaps(s, g) for g in r.spans) for s in sentences],
            dtype=bool,
        )
        if not labels.any():
            continue
        section = {f.chunk_id: f.dense for f in seen["sections"]}
        rows.append(
            {
                "id": r.item.id,
                "questions": np.asarray(seen["vectors"], dtype=np.float32),
                "sentences": np.vstack([s.vector for s in sentences]).astype(np.float32),
                "section": np.array([section.get(s.chunk_id, 0.0) for s in sentences], dtype=np.float32),
                "lexical": np.array([[lex[s.id] for s in sentences] for lex in seen["lexical"]], dtype=np.float32),
                "labels": labels,
            }
        )
    return rows


def _scores(row: dict[str, Any], matrix: Any) -> Any:
    """The hand scores of a row's sentences (torch), the sentence term read through ``matrix``."""
    import torch

    sent = torch.from_numpy(row["sentences"])
    out = 0
    for q, lex in zip(torch.from_numpy(row["questions"]), torch.from_numpy(row["lexical"]), strict=True):
        moved = q + matrix @ q if matrix is not None else q
        dense = sent @ (moved / moved.norm())
        section = torch.from_numpy(row["section"])
        section = torch.where(section == 0, dense, section)  # a lexical-only section: the sentence's own
        out = out + PARAMS.sentence * dense + PARAMS.section * section + PARAMS.lexical * lex
    return out / len(row["questions"])


def fit(rows: list[dict[str, Any]], dim: int) -> np.ndarray:
    """The adapter's matrix for ``rows`` (deterministic: starts from zero, full batch)."""
    import torch

    torch.manual_seed(0)
    matrix = torch.zeros(dim, dim, requires_grad=True)
    opt = torch.optim.Adam([matrix], lr=LEARNING_RATE)
    for _ in range(STEPS):
        opt.zero_grad()
        losses = []
        for row in rows:
            s = _scores(row, matrix) / TEMPERATURE
            gold = torch.from_numpy(row["labels"])
            losses.append(torch.logsumexp(s, 0) - torch.logsumexp(s[gold], 0))
        loss = torch.stack(losses).mean() + L2 * (matrix**2).sum()
        loss.backward()
        opt.step()
    return matrix.detach().numpy().astype(np.float32)


def top1(rows: list[dict[str, Any]], matrix: np.ndarray | None) -> int:
    """Questions whose best-scored sentence is a gold one."""
    import torch

    with torch.no_grad():
        m = torch.from_numpy(matrix) if matrix is not None else None
        return sum(bool(row["labels"][int(_scores(row, m).argmax())]) for row in rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m newsrag.eval.train_adapter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ADAPTER_PATH)
    parser.add_argument("--home", type=Path, help="keep the stores under this folder (one NEWSRAG_HOME per corpus)")
    parser.add_argument(
        "--held-out-dir", type=Path, help="also write each leave-one-set-out matrix here, to run the chain on the set left out"
    )
    args = parser.parse_args(argv)
    from ..rag.chain import build_chain

    rows: dict[str, list[dict[str, Any]]] = {}
    model = ""
    for name, (dataset, corpus) in SETS.items():
        home = args.home / corpus[0].parent.name if args.home else None
        with bench([dataset], corpus, home) as b:
            settings = b.chain.settings.model_copy(update={"question_adapter": False})
            chain = build_chain(settings, store=b.chain.store, embedder=b.chain.embedder)
            model = chain.embedder.name
            rows[name] = collect(chain, b.resolved)
        print(f"{name}: {len(rows[name])} answerable questions with a gold sentence among those scored")
    dim = rows["news/dev"][0]["sentences"].shape[1]
    held_out = {}
    for name in SETS:
        others = fit([row for other in SETS if other != name for row in rows[other]], dim)
        held_out[name] = {
            "questions": len(rows[name]),
            "gold_first_hand_scores": top1(rows[name], None),
            "gold_first_adapted": top1(rows[name], others),
        }
        if args.held_out_dir:
            args.held_out_dir.mkdir(parents=True, exist_ok=True)
            np.save(args.held_out_dir / f"without_{name.replace('/', '_')}.npy", others)
        print(f"trained without {name}: gold first {held_out[name]}")
    matrix = fit([row for name in SETS for row in rows[name]], dim)
    npy = args.out.with_suffix(".npy")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, matrix)
    payload = {
        "trained": dt.date.today().isoformat(),
        "model": model.split("+", 1)[0],
        "matrix": npy.name,
        "blend": BLEND,
        "datasets": {name: {"file": str(d.relative_to(REPO)), "commit": _commit(d)} for name, (d, _) in SETS.items()},
        "training": {"steps": STEPS, "learning_rate": LEARNING_RATE, "temperature": TEMPERATURE, "l2": L2},
        "questions": sum(len(r) for r in rows.values()),
        "leave_one_set_out": held_out,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(payload, indent=1))
    print(f"wrote {args.out} and {npy}")


if __name__ == "__main__":
    main()
