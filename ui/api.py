"""The app's API for programs, in two forms over the same chain and store.

* A plain JSON API (:func:`json_api`, a FastAPI app that ``newsrag serve`` mounts at ``/api``):
  ``POST /api/ask`` takes :class:`NewsragInput` JSON and returns ``Answer.model_dump(mode="json")``;
  ``POST /api/ask/stream`` sends the same answer as NDJSON (text deltas, then the answer); bad input is
  HTTP 422 with a one-line ``detail`` naming the value; the OpenAPI schema is ``/api/openapi.json``.
* Named Gradio endpoints (``/ask``, ``/articles``, ``/article``), so that
  ``Client(url).predict("What did Hegseth say about borders?", api_name="/ask")`` works too.

The chat UI's own callbacks build on the same :func:`chain_input`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from ..rag.errors import NewsragError, QueryError
from ..rag.models import Answer, AnswerChunk, NewsragInput
from ..rag.retrieve import Filters
from ..rag.store import Store

__all__ = ["chain_input", "NewsragApi", "user_message", "json_api", "validation_message", "NDJSON"]

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"

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


# -- the plain JSON API -------------------------------------------------------------------------------
def validation_message(errors: Sequence[Any]) -> str:
    """FastAPI/pydantic validation errors as one line that names each bad field and value."""
    parts = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        where = ".".join(loc) or "the body"
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            parts.append(f"unknown field {where!r}; allowed: {', '.join(NewsragInput.model_fields)}")
        elif kind == "json_invalid":
            parts.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', err.get('msg'))}); send a JSON object")
        elif kind == "missing":
            parts.append(f"{where} is required")
        else:
            shown = json.dumps(err.get("input"), ensure_ascii=False, default=str)
            parts.append(f"{where}: {err.get('msg', 'invalid')} (got {shown[:80]})")
    return "; ".join(parts) or "the request is not a valid question"


def json_api(chain: Any, concurrency: int = 4) -> FastAPI:
    """The JSON API over ``chain`` as a FastAPI app, to mount (``app.mount("/api", json_api(chain))``).
    At most ``concurrency`` questions are answered at once; more wait."""
    api = FastAPI(
        title="newsrag",
        summary="Answers over stored news articles; every citation is an exact character span of an article.",
        version="1",
    )
    slots = threading.BoundedSemaphore(concurrency)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc.errors())}, status_code=422)

    @api.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @api.exception_handler(NewsragError)
    async def _failed(request: Request, exc: NewsragError) -> JSONResponse:
        log.warning("API request failed: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503)

    responses: dict[int | str, dict[str, Any]] = {
        422: {"description": "Bad input: `detail` names the value and what is allowed."},
        503: {"description": "The store or the answering backend failed: `detail` says how."},
    }

    @api.post("/ask", response_model=Answer, responses=responses)
    def ask(question: NewsragInput) -> dict[str, Any]:
        """Answer a question from the stored articles: the answer text with markers [1], [2] ... and the
        citations they point to, each an exact span (`start`, `end`) of a stored article."""
        with slots:
            answer: Answer = chain.invoke(question)
        return answer.model_dump(mode="json")

    @api.post(
        "/ask/stream",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "NDJSON, one object a line: {'type': 'delta', 'text': ...} as the answer forms, then "
                "{'type': 'answer', 'answer': <Answer>} (or {'type': 'error', 'detail': ...}).",
                "content": {NDJSON: {}},
            },
            **responses,
        },
    )
    def ask_stream(question: NewsragInput) -> StreamingResponse:
        """The answer as it forms: text deltas (their concatenation is the answer text), then the whole
        Answer with its citations. Bad input is refused with 422 before the stream starts."""
        chain.parse(question)  # a QueryError here is a 422, not a broken stream

        def lines() -> Iterator[str]:
            with slots:
                try:
                    total: AnswerChunk | None = None
                    for chunk in chain.stream(question):
                        total = chunk if total is None else total + chunk
                        if chunk.answer:
                            yield json.dumps({"type": "delta", "text": chunk.answer}, ensure_ascii=False) + "\n"
                    if total is None:
                        raise NewsragError("the chain returned no answer")
                    answer = total.to_answer().model_dump(mode="json")
                    yield json.dumps({"type": "answer", "answer": answer}, ensure_ascii=False) + "\n"
                except Exception as e:  # the status line is sent: the error becomes the stream's last line
                    if not isinstance(e, NewsragError):
                        log.exception("streaming an answer failed")
                    yield json.dumps({"type": "error", "detail": user_message(e)}, ensure_ascii=False) + "\n"

        return StreamingResponse(lines(), media_type=NDJSON)

    return api
