"""newsrag's retrieval side: settings, store, embeddings, and the chain that answers with exact quotes."""

from __future__ import annotations

import logging

from rag.models import Answer, Article, ArticleSummary, Citation, Retrieved
from rag.settings import Settings, get_settings

__all__ = ["Answer", "Article", "ArticleSummary", "Citation", "Retrieved", "Settings", "get_settings", "build_chain"]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def build_chain(settings: Settings | None = None, **kwargs: object) -> object:
    """The answering chain as a LangChain Runnable (see :func:`rag.chain.build_chain`)."""
    from rag.chain import build_chain as _build

    return _build(settings, **kwargs)  # type: ignore[arg-type]
