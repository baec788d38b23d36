"""``ingest_paths``: files in, Chroma records out, with a report of what happened to each file.

Re-ingesting unchanged input writes nothing; a changed article replaces exactly its own records; a bad
file is reported and skipped without touching what is stored. Articles are written in batches whose
article markers go last, so a killed run leaves nothing half-visible and the next run completes it.
"""

from __future__ import annotations

import glob
import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from .chunk import make_chunks, sentence_embed_text
from .parse import JSONL_SUFFIXES, MARKDOWN_SUFFIXES, parse_file
from ..rag.embed import Embedder, make_embedder
from ..rag.errors import ParseError
from ..rag.models import Article
from ..rag.settings import Settings, get_settings
from ..rag.store import ArticleWrite, Store, make_store

__all__ = ["IngestReport", "FileResult", "ingest_paths", "discover", "write_articles", "ARTICLE_SUFFIXES"]

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = {".txt", ".text"} | MARKDOWN_SUFFIXES | JSONL_SUFFIXES
WRITE_BATCH = 32


class FileResult(BaseModel):
    """What happened to one input (a file, or one record of a JSON Lines file)."""

    path: str
    status: str  # added | updated | unchanged | failed | pruned | deleted
    article_id: str | None = None
    title: str | None = None
    reason: str | None = None


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    pruned: int = 0
    sections: int = 0
    sentences: int = 0
    seconds: float = 0.0
    results: list[FileResult] = Field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f"{r.path}: {r.reason}" for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, failed {self.failed}"
            + (f", pruned {self.pruned}" if self.pruned else "")
            + f"; {self.sections} sections, {self.sentences} sentences written in {self.seconds:.1f} s"
        )


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Files named by paths, folders (recursively, article suffixes only) and globs, in a stable order."""
    files: list[Path] = []
    missing: list[FileResult] = []
    for raw in paths:
        text = str(raw)
        if any(ch in text for ch in "*?[") and not Path(text).exists():
            matched = sorted(glob.glob(text, recursive=True))
            if not matched:
                missing.append(FileResult(path=text, status="failed", reason="the pattern matches no file"))
            files.extend(Path(m) for m in matched if Path(m).is_file())
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(FileResult(path=text, status="failed", reason="no such file or folder"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, missing


def _file_key(stored_path: str) -> str:
    """The file part of a stored path (JSON Lines records are stored as ``FILE#L<line>``)."""
    return stored_path.split("#L", 1)[0]


def _file_of(stored_path: str) -> Path:
    return Path(_file_key(stored_path))


def _progress(total: int, enabled: bool, desc: str) -> object:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="article", disable=not enabled or total == 0, file=sys.stderr, leave=False)


def write_articles(
    store: Store,
    embedder: Embedder,
    articles: Sequence[Article],
    chunk_chars: int = 1500,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Embed and store articles in batches; returns (sections, sentences) written."""
    n_sec = n_sen = 0
    for i in range(0, len(articles), WRITE_BATCH):
        batch = articles[i : i + WRITE_BATCH]
        chunks = [make_chunks(a, chunk_chars) for a in batch]
        texts = [c.embed_text for cs in chunks for c in cs]
        texts += [sentence_embed_text(a, s) for a in batch for s in a.sentences]
        vectors = embedder.encode(texts)
        writes, pos = [], 0
        for a, cs in zip(batch, chunks, strict=True):
            writes.append(ArticleWrite(a, cs, vectors[pos : pos + len(cs)], np.empty((0, vectors.shape[1]))))
            pos += len(cs)
        for w in writes:
            n = len(w.article.sentences)
            w.sentence_vectors = vectors[pos : pos + n]
            pos += n
        store.write(writes)
        n_sec += sum(len(cs) for cs in chunks)
        n_sen += sum(len(a.sentences) for a in batch)
        if on_batch:
            on_batch(len(batch))
    return n_sec, n_sen


def ingest_paths(
    paths: Iterable[str | Path],
    settings: Settings | None = None,
    *,
    prune: bool = False,
    progress: bool | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Ingest files, folders and globs into the store; the report is what ``newsrag ingest`` prints."""
    t0 = time.perf_counter()
    settings = settings or get_settings()
    embedder = embedder or make_embedder(settings)
    store = store or make_store(settings, model=embedder.name)
    store.check()
    report = IngestReport()
    files, missing = discover(paths)
    report.results.extend(missing)

    markers = store.markers()
    by_id: dict[str, Article] = {}
    origin: dict[str, str] = {}
    complete: set[str] = set()  # files read without any error: their stored articles can be reconciled
    for path in files:
        try:
            parsed = parse_file(path, settings.max_file_bytes)
        except ParseError as e:
            report.results.append(FileResult(path=str(path), status="failed", reason=e.reason))
            continue
        if not parsed.errors:
            complete.add(str(path.resolve()))
        for err in parsed.errors:
            where = f"{err.source}:{err.line}" if err.line else err.source
            report.results.append(FileResult(path=where, status="failed", reason=err.reason))
        for article in parsed.articles:
            stored_path = article.path or ""
            shown = str(path) + (":" + stored_path.rsplit("#L", 1)[1] if "#L" in stored_path else "")
            if article.id in by_id:
                report.results.append(FileResult(
                    path=shown, status="failed", article_id=article.id, title=article.title,
                    reason=f"same URL as {origin[article.id]} (article {article.id}); skipped, keep one copy",
                ))
                continue
            other = (markers.get(article.id) or {}).get("path") or ""
            if other and _file_key(other) != _file_key(stored_path) and _file_of(other).exists():
                report.results.append(FileResult(
                    path=shown, status="failed", article_id=article.id, title=article.title,
                    reason=f"same URL as the stored article from {_file_key(other)}; skipped "
                    f"(run `newsrag delete {article.id}` first to replace it)",
                ))
                continue
            by_id[article.id] = article
            origin[article.id] = shown

    to_write: list[Article] = []
    for aid, article in by_id.items():
        stored = markers.get(aid)
        if stored and stored["hash"] == article.content_hash and stored["path"] == article.path:
            status = "unchanged"
        else:
            status = "updated" if stored else "added"
            to_write.append(article)
        report.results.append(FileResult(path=origin[aid], status=status, article_id=aid, title=article.title))

    # an article stored from a file that no longer contains it (its URL was edited, or its JSON line
    # removed) is replaced by what the file holds now; with --prune, articles whose files are gone go too
    pruned: list[str] = []
    for aid, m in markers.items():
        if not m["path"] or aid in by_id:
            continue
        if _file_key(m["path"]) in complete:
            pruned.append(aid)
            report.results.append(FileResult(path=_file_key(m["path"]), status="pruned", article_id=aid,
                                             reason="no longer in this file (its URL changed or its record was removed)"))
        elif prune and not _file_of(m["path"]).exists():
            pruned.append(aid)
            report.results.append(FileResult(path=m["path"], status="pruned", article_id=aid, reason="file is gone"))

    changed = bool(to_write or pruned)
    if changed or store.is_dirty():
        store.set_dirty(True)
        store.sweep_orphans()
        if pruned:
            store.delete(pruned)
        show = settings.progress if progress is None else progress
        bar = _progress(len(to_write), show and sys.stderr.isatty(), "embedding")
        try:
            report.sections, report.sentences = write_articles(
                store, embedder, to_write, settings.chunk_chars, on_batch=bar.update  # type: ignore[attr-defined]
            )
        finally:
            bar.close()  # type: ignore[attr-defined]
        store.set_dirty(False)

    for r in report.results:
        if r.status in ("added", "updated", "unchanged", "failed", "pruned"):
            setattr(report, r.status, getattr(report, r.status) + 1)
    report.seconds = round(time.perf_counter() - t0, 3)
    log.info("ingest: %s", report.summary())
    return report
