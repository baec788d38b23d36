"""``ingest_paths``: files in, Chroma records out, with a report of what happened to each file.

Two steps. :func:`plan_ingest` reads every input once and decides, per article, whether it is added,
updated, unchanged, refused or pruned; it keeps only ids and hashes, never the texts. :func:`apply_plan`
then reads the files to write again, a batch at a time, embeds and stores them, so memory stays flat in
the corpus size. Re-ingesting unchanged input writes nothing; a changed article replaces exactly its own
records; a bad file is reported and skipped without touching what is stored. Each batch's article
markers go last, so a killed run leaves nothing half-visible and the next run completes it.
"""

from __future__ import annotations

import glob
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from ..rag.embed import Embedder, make_embedder, release_batch_memory
from ..rag.errors import ParseError
from ..rag.models import Article
from ..rag.settings import Settings, get_settings
from ..rag.store import ArticleWrite, Marker, Store, make_store
from .chunk import make_chunks, sentence_embed_text
from .parse import ARTICLE_SUFFIXES, parse_file

__all__ = [
    "IngestReport",
    "FileResult",
    "IngestPlan",
    "ingest_paths",
    "plan_ingest",
    "apply_plan",
    "discover",
    "write_articles",
    "WRITE_BATCH",
]

log = logging.getLogger(__name__)

WRITE_BATCH = 32


class FileResult(BaseModel):
    """What happened to one input (a file, or one record of a JSON Lines file)."""

    path: str
    line: int | None = None
    status: str  # added | updated | unchanged | failed | pruned
    article_id: str | None = None
    title: str | None = None
    reason: str | None = None

    @property
    def where(self) -> str:
        """``path`` or ``path:line``, as error messages name it."""
        return f"{self.path}:{self.line}" if self.line else self.path


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
        return [f"{r.where}: {r.reason}" for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, failed {self.failed}"
            + (f", pruned {self.pruned}" if self.pruned else "")
            + f"; {self.sections} sections, {self.sentences} sentences written in {self.seconds:.1f} s"
        )


@dataclass
class IngestPlan:
    """What an ingest will do: per-input results, the articles to (re)write and the ids to delete."""

    results: list[FileResult] = field(default_factory=list)
    write: dict[str, Path] = field(default_factory=dict)  # article id -> the file that holds it now
    delete: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.write or self.delete)


def _shown(text: str) -> str:
    """A path as printable UTF-8: bytes of a name that is not UTF-8 appear as ``\\xe9``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Files named by paths, folders (recursively, article suffixes only) and globs, in a stable order."""
    files: list[Path] = []
    missing: list[FileResult] = []
    for raw in paths:
        text = str(raw)
        if any(ch in text for ch in "*?[") and not Path(text).exists():
            matched = sorted(glob.glob(text, recursive=True))
            if not matched:
                missing.append(FileResult(path=_shown(text), status="failed", reason="the pattern matches no file"))
            files.extend(Path(m) for m in matched if Path(m).is_file())
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(FileResult(path=_shown(text), status="failed", reason="no such file or folder"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, missing


def plan_ingest(paths: Iterable[str | Path], markers: dict[str, Marker], max_file_bytes: int, prune: bool = False) -> IngestPlan:
    """Read the inputs and decide what happens to each article, against the store's ``markers``."""
    plan = IngestPlan()
    files, missing = discover(paths)
    plan.results.extend(missing)
    seen: dict[str, FileResult] = {}  # article id -> where it was first found in this run
    complete: set[str] = set()  # files read without any error: their stored articles can be reconciled
    for path in files:
        if _shown(str(path)) != str(path):
            reason = "the file name is not valid UTF-8; rename the file (e.g. `convmv -f latin1 -t utf8`)"
            plan.results.append(FileResult(path=_shown(str(path)), status="failed", reason=reason))
            continue
        try:
            parsed = parse_file(path, max_file_bytes)
        except ParseError as e:
            plan.results.append(FileResult(path=str(path), line=e.line, status="failed", reason=e.reason))
            continue
        if not parsed.errors:
            complete.add(str(path.resolve()))
        for err in parsed.errors:
            plan.results.append(FileResult(path=str(path), line=err.line, status="failed", reason=err.reason))
        for article in parsed.articles:
            plan.results.append(_decide(plan, article, path, markers, seen))

    # an article stored from a file that no longer contains it (its URL was edited, or its JSON line
    # removed) is replaced by what the file holds now; with --prune, articles whose files are gone go too
    for aid, m in markers.items():
        if not m.path or aid in seen:
            continue
        if m.path in complete:
            plan.delete.append(aid)
            plan.results.append(
                FileResult(
                    path=m.path,
                    line=m.line,
                    status="pruned",
                    article_id=aid,
                    reason="no longer in this file (its URL changed or its record was removed)",
                )
            )
        elif prune and not Path(m.path).exists():
            plan.delete.append(aid)
            plan.results.append(FileResult(path=m.path, line=m.line, status="pruned", article_id=aid, reason="file is gone"))
    return plan


def _decide(
    plan: IngestPlan, article: Article, path: Path, markers: dict[str, Marker], seen: dict[str, FileResult]
) -> FileResult:
    result = FileResult(path=str(path), line=article.line, status="unchanged", article_id=article.id, title=article.title)
    first = seen.get(article.id)
    if first is not None:
        return result.model_copy(
            update={"status": "failed", "reason": f"same URL as {first.where} (article {article.id}); skipped, keep one copy"}
        )
    stored = markers.get(article.id)
    if stored and stored.path and stored.path != article.path and Path(stored.path).exists():
        return result.model_copy(
            update={
                "status": "failed",
                "reason": f"same URL as the stored article from "
                f"{stored.path}; skipped (run `newsrag delete {article.id}` first to replace it)",
            }
        )
    seen[article.id] = result
    if stored and (stored.hash, stored.path, stored.line) == (article.content_hash, article.path, article.line):
        return result
    plan.write[article.id] = path
    result.status = "updated" if stored else "added"
    return result


def planned_articles(plan: IngestPlan, max_file_bytes: int) -> Iterator[Article]:
    """The articles to write, read again from their files one file at a time (nothing is held)."""
    by_file: dict[Path, set[str]] = {}
    for aid, path in plan.write.items():
        by_file.setdefault(path, set()).add(aid)
    for path, ids in by_file.items():
        try:
            parsed = parse_file(path, max_file_bytes)
        except ParseError as e:  # changed or removed since the plan was made: it is reported, not fatal
            log.warning("%s; skipped", e)
            continue
        yield from (a for a in parsed.articles if a.id in ids)


def write_articles(
    store: Store,
    embedder: Embedder,
    articles: Iterable[Article],
    chunk_chars: int = 1500,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Embed and store articles in batches of :data:`WRITE_BATCH`; returns (sections, sentences) written.
    Then the embedder may free what it kept for batches (the ONNX backend's arena: a server that ingested
    an upload comes back to its size)."""
    n_sec = n_sen = 0
    batch: list[Article] = []
    try:
        for article in articles:
            batch.append(article)
            if len(batch) == WRITE_BATCH:
                n_sec, n_sen = _add(_write_batch(store, embedder, batch, chunk_chars, on_batch), (n_sec, n_sen))
                batch = []
        if batch:
            n_sec, n_sen = _add(_write_batch(store, embedder, batch, chunk_chars, on_batch), (n_sec, n_sen))
    finally:
        release_batch_memory(embedder)
    return n_sec, n_sen


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def _write_batch(
    store: Store, embedder: Embedder, batch: Sequence[Article], chunk_chars: int, on_batch: Callable[[int], None] | None
) -> tuple[int, int]:
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
    if on_batch:
        on_batch(len(batch))
    return sum(len(cs) for cs in chunks), sum(len(a.sentences) for a in batch)


def apply_plan(plan: IngestPlan, store: Store, embedder: Embedder, settings: Settings, progress: bool = False) -> tuple[int, int]:
    """Carry out a plan: delete, then embed and write; returns (sections, sentences) written."""
    if not (plan.changed or store.is_dirty()):
        return 0, 0
    store.set_dirty(True)
    if store.write_lock is not None:
        # only with the store's lock held: records without a marker are a killed run's, not another
        # writer's batch in flight (in server mode, write() clears each article's old records itself)
        store.sweep_orphans()
    if plan.delete:
        store.delete(plan.delete)
    bar = _progress(len(plan.write), progress and sys.stderr.isatty(), "embedding")
    try:
        written = write_articles(
            store, embedder, planned_articles(plan, settings.max_file_bytes), settings.chunk_chars, on_batch=bar.update
        )
    finally:
        bar.close()
    store.set_dirty(False)
    return written


def _progress(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="article", disable=not enabled or total == 0, file=sys.stderr, leave=False)


def _prepare_reads(store: Store, settings: Settings) -> None:
    """Make the new version's BM25 index and sentence vector copy now, so that the next question does
    not wait for them (an embedded store; behind a Chroma server neither is kept on disk). A failure here
    costs that question the wait, never the ingest."""
    folder = settings.cache_path
    if folder is None:
        return
    from ..rag.lexical import lexical_index
    from ..rag.vectors import sentence_vectors

    t = time.perf_counter()
    try:
        lexical_index(store, folder)
        sentence_vectors(store, folder)
    except Exception as e:  # noqa: BLE001 (the articles are stored; the caches are only a head start)
        log.warning("the indexes for the next question were not prepared (%s); it will make them", e)
        return
    log.info("prepared the BM25 index and the sentence vectors in %.1f s", time.perf_counter() - t)


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
    show = settings.progress if progress is None else progress
    # one writer per store at a time (docs/reliability.md): the plan is made against the markers as they
    # are once this process holds the store, so two ingests never race on the same article
    with store.exclusive("newsrag ingest"):
        store.check()
        store.tune_search()
        plan = plan_ingest(paths, store.markers(), settings.max_file_bytes, prune=prune)
        report = IngestReport(results=plan.results)
        report.sections, report.sentences = apply_plan(plan, store, embedder, settings, progress=show)
    for r in report.results:
        setattr(report, r.status, getattr(report, r.status) + 1)
    if report.added or report.updated or report.pruned:
        _prepare_reads(store, settings)
    report.seconds = round(time.perf_counter() - t0, 3)
    log.info("ingest: %s", report.summary())
    return report
