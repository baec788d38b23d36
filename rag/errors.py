"""Errors newsrag raises on purpose. Each message names the bad value and the remedy."""

from __future__ import annotations

__all__ = [
    "NewsragError",
    "ConfigError",
    "ParseError",
    "IngestError",
    "StoreError",
    "ModelMismatchError",
    "NotFoundError",
    "AnswerError",
    "QueryError",
]


class NewsragError(Exception):
    """Base class: anything newsrag reports to a user as a clear one-line message."""


class ConfigError(NewsragError):
    """A setting has a value newsrag cannot use (unknown backend, missing model, ...)."""


class ParseError(NewsragError):
    """An input file (or one line of it) cannot be read as an article."""

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


class IngestError(NewsragError):
    """Ingestion of one article failed after parsing (conflicts, store writes)."""


class StoreError(NewsragError):
    """The Chroma store cannot be opened or used."""


class ModelMismatchError(StoreError):
    """The store holds vectors from another embedding model."""


class NotFoundError(NewsragError):
    """An article id that is not in the store."""


class AnswerError(NewsragError):
    """The answering backend failed in a way that is not recoverable by falling back."""


class QueryError(NewsragError, ValueError):
    """A question or filter value the chain cannot use. Also a ``ValueError``, the type Python code
    catches for bad input: ``except ValueError`` and LangChain's ``with_retry(retry_if_exception_type=...)``
    can tell a bad question (never worth retrying) from a failing backend."""
