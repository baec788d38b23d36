"""newsrag's core: settings, errors, typed records, the Chroma store, embeddings, retrieval, quote
selection and answering. It imports nothing from ``ingest``, ``ui`` or ``eval``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .chain import NewsragChain, build_chain
    from .models import Answer, Article, ArticleSummary, Citation, Retrieved
    from .settings import Settings, get_settings

_EXPORTS = {
    "Answer": ".models",
    "Article": ".models",
    "ArticleSummary": ".models",
    "Citation": ".models",
    "Retrieved": ".models",
    "Settings": ".settings",
    "get_settings": ".settings",
    "NewsragChain": ".chain",
    "build_chain": ".chain",
}
__all__ = [
    "Answer",
    "Article",
    "ArticleSummary",
    "Citation",
    "Retrieved",
    "Settings",
    "get_settings",
    "NewsragChain",
    "build_chain",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

logging.getLogger(__name__).addHandler(logging.NullHandler())
