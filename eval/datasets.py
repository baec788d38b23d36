"""Evaluation datasets: JSON Lines of questions with gold answer strings, validated with file:line errors.

One line per question::

    {"id": "q01", "question": "...", "history": ["earlier user turn", ...],
     "gold": ["short exact substring of an article", ...], "gold_articles": ["file.txt" or article id, ...],
     "answerable": true}

``history``, ``gold_articles`` are optional; an answerable question needs at least one gold string and an
unanswerable one has none. :func:`resolve_gold` then checks the gold against a store (after ingest):
every gold article must be stored and every gold string must occur in one of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..rag.errors import NewsragError
from ..rag.models import ArticleSummary

__all__ = ["DatasetError", "DatasetItem", "GoldSpan", "ResolvedItem", "load_dataset", "load_datasets", "resolve_gold", "FIELDS"]

#: The keys a dataset line may have; anything else is a typo and is refused.
FIELDS = ("id", "question", "history", "gold", "gold_articles", "answerable", "tags")
_REQUIRED = ("id", "question", "gold", "answerable")


class DatasetError(NewsragError):
    """A dataset line that cannot be used; the message names file:line and the remedy."""


class DatasetItem(BaseModel):
    """One question of a dataset, with where it came from (for error messages and reports)."""

    id: str
    question: str
    history: list[str] = Field(default_factory=list)
    gold: list[str] = Field(default_factory=list)
    gold_articles: list[str] = Field(default_factory=list)
    answerable: bool
    tags: list[str] = Field(default_factory=list, description="Kinds of question (paraphrase, wrong-event, ...).")
    source: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


class GoldSpan(BaseModel):
    """One occurrence of a gold string in a stored article: ``text[start:end] == gold``."""

    gold: int  # index into DatasetItem.gold
    article_id: str
    start: int
    end: int


class ResolvedItem(BaseModel):
    """A dataset item checked against the store: gold article ids and every gold occurrence located."""

    item: DatasetItem
    gold_article_ids: list[str] = Field(default_factory=list)
    spans: list[GoldSpan] = Field(default_factory=list)


def _fail(where: str, problem: str, remedy: str) -> DatasetError:
    return DatasetError(f"{where}: {problem}; {remedy}")


def _strings(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(
            where,
            f"{key!r} must be a list of strings, got {json.dumps(value, ensure_ascii=False)[:80]}",
            f'write it as "{key}": ["...", "..."]',
        )
    if any(not v.strip() for v in value):
        raise _fail(where, f"{key!r} contains an empty string", "remove it")
    return list(value)


def _item(raw: Any, source: str, line: int) -> DatasetItem:
    where = f"{source}:{line}"
    if not isinstance(raw, dict):
        raise _fail(where, f"expected a JSON object, got {type(raw).__name__}", "write one object per line")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise _fail(where, f"unknown key {', '.join(map(repr, unknown))}", f"allowed keys: {', '.join(FIELDS)}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise _fail(where, f"missing {', '.join(map(repr, missing))}", f"every line needs {', '.join(_REQUIRED)}")
    qid, question, answerable = raw["id"], raw["question"], raw["answerable"]
    if not isinstance(qid, str) or not qid.strip():
        raise _fail(where, f"'id' must be a non-empty string, got {qid!r}", 'give each question an id such as "q01"')
    if not isinstance(question, str) or not question.strip():
        raise _fail(where, f"'question' of {qid!r} must be a non-empty string", "write the question text")
    if not isinstance(answerable, bool):
        raise _fail(
            where, f"'answerable' of {qid!r} must be true or false, got {answerable!r}", "use JSON true/false (not a string)"
        )
    history = _strings(raw.get("history", []), "history", where)
    gold = _strings(raw["gold"], "gold", where)
    gold_articles = _strings(raw.get("gold_articles", []), "gold_articles", where)
    tags = _strings(raw.get("tags", []), "tags", where)
    if answerable and not gold:
        raise _fail(
            where,
            f"{qid!r} is answerable but has no gold strings",
            "add the exact article text that answers it to 'gold', or set \"answerable\": false",
        )
    if not answerable and (gold or gold_articles):
        raise _fail(
            where,
            f"{qid!r} is unanswerable but has gold strings or articles",
            "empty 'gold' and 'gold_articles', or set \"answerable\": true",
        )
    return DatasetItem(
        id=qid,
        question=question,
        history=history,
        gold=gold,
        gold_articles=gold_articles,
        answerable=answerable,
        tags=tags,
        source=source,
        line=line,
    )


def load_dataset(path: str | Path) -> list[DatasetItem]:
    """The questions of one JSON Lines file (blank lines and ``#`` comment lines are skipped)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{source}: no such dataset file; check the path") from None
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"{source}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); save it as UTF-8"
        ) from e
    except OSError as e:
        raise DatasetError(f"{source}: cannot read it ({e.strerror})") from e
    items: list[DatasetItem] = []
    for n, raw_line in enumerate(text.splitlines(), start=1):
        stripped = raw_line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            raw = json.loads(stripped)
        except json.JSONDecodeError as e:
            raise _fail(
                f"{source}:{n}", f"not valid JSON ({e.msg} at column {e.colno})", "each line must be one complete JSON object"
            ) from e
        items.append(_item(raw, source, n))
    if not items:
        raise DatasetError(f"{source}: the dataset has no questions; add one JSON object per line")
    return items


def load_datasets(paths: Iterable[str | Path]) -> list[DatasetItem]:
    """Questions of several files, in order; ids must be unique across all of them."""
    items: list[DatasetItem] = []
    seen: dict[str, DatasetItem] = {}
    for path in paths:
        for item in load_dataset(path):
            if item.id in seen:
                raise _fail(
                    item.where, f"duplicate id {item.id!r} (first at {seen[item.id].where})", "give every question its own id"
                )
            seen[item.id] = item
            items.append(item)
    if not items:
        raise DatasetError("no dataset given; pass one or more .jsonl files")
    return items


def resolve_gold(items: Sequence[DatasetItem], articles: Sequence[ArticleSummary], texts: dict[str, str]) -> list[ResolvedItem]:
    """Map gold article names to stored ids and locate every occurrence of every gold string.

    ``articles`` are the stored articles and ``texts`` their stored text by id. A gold article may be an
    article id, its URL, or a file name (matched against the basename of the stored source path; every
    record of a JSON Lines file matches its file name, so a URL is the precise reference); without gold
    articles, gold strings are looked for in every stored article. Raises :class:`DatasetError` when a
    gold article is not stored or a gold string occurs in none of its gold articles.
    """
    ids = {a.id for a in articles}
    by_name: dict[str, list[str]] = {}
    for a in articles:
        name = Path(a.path).name if a.path else None
        for key in (name, a.url):
            if key:
                by_name.setdefault(key, []).append(a.id)
    out: list[ResolvedItem] = []
    for item in items:
        gold_ids: list[str] = []
        for ref in item.gold_articles:
            found = [ref] if ref in ids else by_name.get(ref) or by_name.get(Path(ref).name, [])
            if not found:
                raise _fail(
                    item.where,
                    f"gold article {ref!r} of {item.id!r} is not in the store",
                    "ingest it (e.g. `newsrag eval ... --corpus FOLDER`) or fix the file name / article id "
                    "(`newsrag articles` lists what is stored)",
                )
            gold_ids.extend(i for i in found if i not in gold_ids)
        search = gold_ids or sorted(texts)
        spans: list[GoldSpan] = []
        for g, gold in enumerate(item.gold):
            located = []
            for aid in search:
                text = texts.get(aid, "")
                start = text.find(gold)
                while start != -1:
                    located.append(GoldSpan(gold=g, article_id=aid, start=start, end=start + len(gold)))
                    start = text.find(gold, start + 1)
            if not located:
                where = "its gold articles " + ", ".join(item.gold_articles) if item.gold_articles else "any stored article"
                raise _fail(
                    item.where,
                    f"gold string {gold!r} of {item.id!r} does not occur in {where}",
                    "copy it exactly from the article text (same quotes, apostrophes and spacing)",
                )
            spans.extend(located)
        if not gold_ids:
            gold_ids = sorted({s.article_id for s in spans})
        out.append(ResolvedItem(item=item, gold_article_ids=gold_ids, spans=spans))
    return out
