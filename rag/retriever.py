"""``NewsragRetriever``: newsrag's retrieval and quote choice as a LangChain ``BaseRetriever``, for
developers who bring their own prompt and chat model.

Its Documents are the quotes the chain would cite, best first: ``page_content`` is exactly
``article.text[start:end]`` of the stored article (the citation invariant, carried over), and the
metadata says where the quote is. When the chain would abstain (the articles do not answer) it returns no
Documents, so a downstream model is not handed near misses to paraphrase. It always selects quotes the
extractive way: no LLM is called, even when the chain has one.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from .chain import NewsragChain, build_chain
from .models import Citation
from .settings import Settings

__all__ = ["NewsragRetriever", "quote_document"]


def quote_document(citation: Citation) -> Document:
    """One quote as a Document: the quote text, and metadata naming its article and span."""
    return Document(
        id=f"{citation.article_id}:{citation.start}-{citation.end}",
        page_content=citation.quote,
        metadata={
            "article_id": citation.article_id,
            "title": citation.title,
            "url": citation.url,
            "source": citation.source,
            "date": citation.date.isoformat() if citation.date else None,
            "headline": citation.headline,
            "section": citation.section,
            "start": citation.start,
            "end": citation.end,
            "score": citation.score,
            "n": citation.n,
        },
    )


class NewsragRetriever(BaseRetriever):
    """Quotes from the stored articles for a question (``invoke("question")`` → ``list[Document]``).

    ``filters`` (``since``/``until`` YYYY-MM-DD, ``sources``, ``article_ids``) and ``k`` (sections to
    retrieve) apply to every query and are checked like the chain's input (a ``QueryError`` names a bad
    value). Build one with ``NewsragRetriever(chain=build_chain(settings))`` or
    :meth:`from_settings`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    chain: NewsragChain = Field(description="The chain whose store, ranking and abstention decide the quotes.")
    filters: dict[str, Any] | None = Field(default=None, description="Filters for every query, as in the chain's input.")
    k: int | None = Field(default=None, description="Sections to retrieve (default: NEWSRAG_TOP_K).")

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> NewsragRetriever:
        """A retriever over the store that ``settings`` (default: ``NEWSRAG_*``) name."""
        return cls(chain=build_chain(settings), **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        payload: dict[str, Any] = {"question": query, "filters": self.filters, "k": self.k}
        answer = self.chain.quotes(payload)
        return [quote_document(c) for c in answer.citations]
