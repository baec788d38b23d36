"""Ingestion: parse article files into headline sections and sentences, embed them, write them to Chroma."""

from __future__ import annotations

import logging

from ingest.parse import parse_file, parse_text
from ingest.pipeline import IngestReport, ingest_paths

__all__ = ["ingest_paths", "IngestReport", "parse_file", "parse_text"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
