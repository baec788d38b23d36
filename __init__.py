"""newsrag: answers over news articles where every claim carries a verbatim, character-exact quote.

The public API, importable from here (each name loads its module on first use)::

    from newsrag import Settings, ingest_paths, build_chain

    settings = Settings(home="/tmp/newsrag")
    ingest_paths(["articles/"], settings)
    answer = build_chain(settings).invoke({"question": "What did Hegseth say about borders?"})

Layers, bottom to top: ``newsrag.rag`` (settings, store, retrieval, quotes, answering), ``newsrag.ingest``
(files to records), ``newsrag.ui`` (terminal CLI and Gradio app) and ``newsrag.eval``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .rag.lazy import lazy_exports

if TYPE_CHECKING:
    from .ingest.pipeline import IngestReport, ingest_paths
    from .rag.chain import NewsragChain, build_chain
    from .rag.errors import NewsragError, QueryError
    from .rag.models import Answer, AnswerChunk, Article, ArticleSummary, Citation, NewsragInput
    from .rag.retriever import NewsragRetriever
    from .rag.settings import Settings, get_settings
    from .ui.app import build_app

_EXPORTS = {
    "Answer": ".rag.models",
    "AnswerChunk": ".rag.models",
    "NewsragInput": ".rag.models",
    "Article": ".rag.models",
    "ArticleSummary": ".rag.models",
    "Citation": ".rag.models",
    "Settings": ".rag.settings",
    "get_settings": ".rag.settings",
    "NewsragError": ".rag.errors",
    "QueryError": ".rag.errors",
    "NewsragChain": ".rag.chain",
    "build_chain": ".rag.chain",
    "NewsragRetriever": ".rag.retriever",
    "ingest_paths": ".ingest.pipeline",
    "IngestReport": ".ingest.pipeline",
    "build_app": ".ui.app",
}
__all__ = [
    "Answer",
    "AnswerChunk",
    "NewsragInput",
    "Article",
    "ArticleSummary",
    "Citation",
    "Settings",
    "get_settings",
    "NewsragError",
    "QueryError",
    "NewsragChain",
    "build_chain",
    "NewsragRetriever",
    "ingest_paths",
    "IngestReport",
    "build_app",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

logging.getLogger(__name__).addHandler(logging.NullHandler())
