"""Ingestion: parse article files into headline sections and sentences, embed them, write them to Chroma.
Builds on ``newsrag.rag`` only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..rag.lazy import lazy_exports

if TYPE_CHECKING:
    from .parse import parse_file, parse_text
    from .pipeline import IngestReport, ingest_paths
    from .reindex import reindex

_EXPORTS = {
    "ingest_paths": ".pipeline",
    "IngestReport": ".pipeline",
    "parse_file": ".parse",
    "parse_text": ".parse",
    "reindex": ".reindex",
}
__all__ = ["ingest_paths", "IngestReport", "parse_file", "parse_text", "reindex"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

logging.getLogger(__name__).addHandler(logging.NullHandler())
