"""Uploaded article files: checked, kept under ``$NEWSRAG_HOME/uploads`` and ingested on the spot.

A file is copied to ``uploads/<content hash>/<name>`` before ingesting, so the stored article points at a
file that outlives Gradio's temporary upload folder and re-uploading the same file reports "unchanged".
Files that are too large, of another type, or that fail to parse change nothing that is stored: ingest
skips them, and their copies are removed again.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..ingest import IngestReport, ingest_paths
from ..ingest.parse import ARTICLE_SUFFIXES
from ..ingest.pipeline import FileResult
from ..rag.errors import NewsragError
from ..rag.settings import Settings

__all__ = ["UPLOAD_SUFFIXES", "MAX_FILES", "ingest_uploads", "result_rows", "RESULT_HEADERS"]

log = logging.getLogger(__name__)

#: What the upload accepts: what ingest reads.
UPLOAD_SUFFIXES = ARTICLE_SUFFIXES
#: Files per upload; more are refused with a reason rather than ingested.
MAX_FILES = 20
RESULT_HEADERS = ["file", "status", "title", "reason"]


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .") or "upload"
    return stem[:120]


def _refuse(name: str, reason: str) -> FileResult:
    return FileResult(path=name, status="failed", reason=reason)


def ingest_uploads(paths: Sequence[str | Path], settings: Settings) -> tuple[list[FileResult], IngestReport | None]:
    """Check, keep and ingest uploaded files; returns one result per file (or JSONL record)."""
    refused: list[FileResult] = []
    kept: dict[Path, str] = {}  # kept copy -> the name the user uploaded
    created: set[Path] = set()  # copies this call wrote (only these are removed again)
    root = settings.home / "uploads"
    for i, raw in enumerate(paths):
        src = Path(raw)
        name = _safe_name(src.name)
        if i >= MAX_FILES:
            refused.append(_refuse(name, f"more than {MAX_FILES} files in one upload; upload the rest separately"))
            continue
        if src.suffix.lower() not in UPLOAD_SUFFIXES:
            refused.append(
                _refuse(name, f"not an article file ({src.suffix or 'no suffix'}); upload {', '.join(UPLOAD_SUFFIXES)}")
            )
            continue
        try:
            size = src.stat().st_size
            if size > settings.max_file_bytes:
                refused.append(
                    _refuse(name, f"{size:,} bytes is over the {settings.max_file_bytes:,}-byte limit (NEWSRAG_MAX_FILE_BYTES)")
                )
                continue
            data = src.read_bytes()
        except OSError as e:
            refused.append(_refuse(name, f"cannot read the upload: {e.strerror or e}"))
            continue
        dest = root / hashlib.sha256(data).hexdigest()[:16] / name
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            created.add(dest)
        kept[dest] = name

    if not kept:
        return refused, None
    try:
        report = ingest_paths(list(kept), settings, progress=False)
    except NewsragError as e:
        log.warning("upload ingest failed: %s", e)
        _discard(created)
        return refused + [_refuse(name, str(e)) for name in kept.values()], None

    results: list[FileResult] = []
    used: set[Path] = set()
    for r in report.results:
        copy = next((p for p in kept if r.path in (str(p), str(p.resolve()))), None)
        if copy is None:
            results.append(r)
            continue
        if r.status != "failed":
            used.add(copy)
        results.append(r.model_copy(update={"path": kept[copy]}))
    _discard(created - used)
    return refused + results, report


def _discard(copies: set[Path]) -> None:
    """Remove kept copies that nothing stored refers to (failed files)."""
    for path in copies:
        try:
            path.unlink(missing_ok=True)
            if path.parent.exists() and not any(path.parent.iterdir()):
                shutil.rmtree(path.parent, ignore_errors=True)
        except OSError as e:
            log.debug("cannot remove %s: %s", path, e)


def result_rows(results: Sequence[FileResult]) -> list[list[str]]:
    """Rows for the per-file result table: file, status, title, reason."""
    return [[r.where, r.status, r.title or "", r.reason or ""] for r in results]
