"""The app's API for programs: plain functions over the chain and the store, returning JSON.

They are exposed as named Gradio endpoints (``/ask``, ``/articles``, ``/article``) so another program can
call ``Client(url).predict("What did Hegseth say about borders?", api_name="/ask")`` and get
``Answer.model_dump(mode="json")`` back. The chat UI's own callbacks build on the same :func:`chain_input`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from ..rag.errors import NewsragError, QueryError
from ..rag.models import Answer
from ..rag.retrieve import Filters
from ..rag.store import Store

__all__ = ["chain_input", "NewsragApi", "user_message"]

# The server-side file path is not for clients (and gradio_client would try to download any dict with
# a string "path" key as a file).
_PRIVATE = {"path"}


def chain_input(
    question: str,
    history: Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    sources: Sequence[str] | None = None,
    k: int | float | None = None,
) -> dict[str, Any]:
    """The chain's input dict; empty filters are left out and ``k`` is omitted when unset (0 or None)."""
    if not isinstance(question, str) or not question.strip():
        raise QueryError("the question is empty; type a question about the stored articles")
    filters: dict[str, Any] = {}
    for name, value in (("since", since), ("until", until)):
        if value and value.strip():
            filters[name] = value.strip()
    chosen = [s for s in (sources or []) if s]
    if chosen:
        filters["sources"] = chosen
    Filters.parse(filters)  # the chain's own validator: a bad date is refused here, before any work
    payload: dict[str, Any] = {"question": question.strip(), "history": [h for h in (history or []) if h], "filters": filters}
    if k:
        if float(k) != int(k):
            raise QueryError(f"k={k!r} must be a whole number of sections")
        payload["k"] = int(k)
    return payload


class NewsragApi:
    """Functions for programs; Gradio derives each endpoint's parameters from the type hints."""

    def __init__(self, chain: Any, store: Store) -> None:
        self.chain = chain
        self.store = store

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: list[str] | None = None,
        k: int | None = None,
    ) -> dict[str, Any]:
        """Answer a question from the stored articles. Returns the Answer as JSON: the answer text with
        markers [1], [2] …, `abstained`, and `citations` (quote, article_id, title, url, date, section,
        start, end). `history` holds earlier user questions (oldest first); `since`/`until` are
        YYYY-MM-DD; `sources` are domains; `k` is how many sections to retrieve (default from settings)."""
        try:
            answer: Answer = self.chain.invoke(chain_input(question, history, since, until, sources, k))
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        return answer.model_dump(mode="json")

    def articles(self) -> list[dict[str, Any]]:
        """Stored articles, newest first: id, title, url, source, date, n_sections, n_sentences."""
        return [a.model_dump(mode="json", exclude=_PRIVATE) for a in self.store.list_articles()]

    def article(self, article_id: str) -> dict[str, Any]:
        """One stored article: its text and the character spans of its sections and sentences."""
        try:
            article = self.store.get_article(article_id)
        except NewsragError as e:
            raise gr.Error(str(e)) from e
        return article.model_dump(mode="json", exclude=_PRIVATE)

    def sources(self) -> list[str]:
        """The domains of the stored articles (the choices of the source filter)."""
        return sorted({a.source for a in self.store.list_articles() if a.source})


def user_message(error: Exception) -> str:
    """What the UI shows for an error: newsrag's own one-line message, or a generic one."""
    if isinstance(error, NewsragError):
        return str(error)
    return f"internal error ({type(error).__name__}); the server log has the details"
