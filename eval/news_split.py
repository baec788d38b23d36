"""Split the news questions into a development split (to tune on) and a test split (to report only).

``python -m newsrag.eval.news_split`` reads ``eval/datasets/news/questions/*.jsonl`` (one file per
writer) and writes ``dev.jsonl`` and ``test.jsonl`` beside them, deterministically: within each writer's
file, questions are grouped by (answerable, follow-up), shuffled with a fixed seed, and dealt alternately
to the two splits, so both hold every story and every kind of question in the same proportions.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

__all__ = ["split", "NEWS"]

NEWS = Path(__file__).resolve().parent / "datasets" / "news"
SEED = 20261129


def split(folder: Path = NEWS) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    dev: list[dict[str, object]] = []
    test: list[dict[str, object]] = []
    for path in sorted((folder / "questions").glob("*.jsonl")):
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        groups: dict[tuple[bool, bool], list[dict[str, object]]] = {}
        for item in items:
            groups.setdefault((bool(item["answerable"]), bool(item.get("history"))), []).append(item)
        turn = 0
        for key in sorted(groups):
            group = groups[key]
            random.Random(f"{SEED}:{path.name}:{key}").shuffle(group)
            for item in group:
                (dev if turn % 2 == 0 else test).append(item)
                turn += 1
    return dev, test


def main() -> None:
    dev, test = split()
    for name, items in (("dev", dev), ("test", test)):
        path = NEWS / f"{name}.jsonl"
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
        n_ans = sum(bool(i["answerable"]) for i in items)
        print(f"{path}: {len(items)} questions, {n_ans} answerable, {len(items) - n_ans} unanswerable")


if __name__ == "__main__":
    main()
