"""The Gradio app: a streaming chat whose answers carry numbered quote footnotes, a sources panel that
shows the whole cited article with the quote highlighted, and an Articles tab with upload.

``build_app(chain, settings)`` returns the ``gr.Blocks``; :func:`mount` puts it (with its theme and CSS,
which Gradio 6 takes at mount/launch time, not from the Blocks) and the JSON API (``/api``) into a FastAPI
app; ``serve(host, port, settings)`` ingests the bundled articles into an empty store, then serves that app
locally with uvicorn (``newsrag serve`` calls it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..rag.errors import NewsragError
from ..rag.models import Answer, AnswerChunk
from ..rag.settings import Settings, get_settings
from ..rag.store import Store, make_store
from .api import NewsragApi, chain_input, json_api, user_message
from .render import Turn, article_html, article_placeholder, chat_messages, citation_key, citation_label
from .style import CSS, SCROLL_TO_HIGHLIGHT_JS, theme
from .uploads import RESULT_HEADERS, UPLOAD_SUFFIXES, ingest_uploads, result_rows

__all__ = [
    "build_app",
    "mount",
    "serve",
    "launch_options",
    "mount_options",
    "ChatCallbacks",
    "EXAMPLE_QUESTIONS",
    "ANSWER_CONCURRENCY",
]

log = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = [
    "What did Hegseth say about borders?",
    "Will the US send troops to Ukraine?",
    "What is the Pentagon's priority in the Pacific?",
]
#: Questions answered at the same time (chat and API share the limit); more wait in Gradio's queue.
ANSWER_CONCURRENCY = 4
QUEUE_SIZE = 64
ARTICLE_HEADERS = ["title", "date", "source", "sections"]
#: rows of the Articles tab, the newest first: at 10,000 articles the whole list was 1 MB of every page
ARTICLE_ROWS = 500
Update = dict[str, Any]


class ChatCallbacks:
    """The UI's event handlers, over one chain and one store (shared by all browser sessions)."""

    def __init__(self, chain: Any, store: Store, settings: Settings) -> None:
        self.chain = chain
        self.store = store
        self.settings = settings
        self.api = NewsragApi(chain, store)

    # -- chat -------------------------------------------------------------------------------------
    def respond(
        self, question: str, turns: list[Turn], since: str, until: str, sources: list[str] | None, k: float
    ) -> Iterator[tuple[Any, ...]]:
        """Stream an answer into the chat; the earlier questions of the conversation are its history."""
        turns = list(turns or [])
        if not (question or "").strip():
            gr.Warning("Type a question first.")
            yield (gr.skip(),) * 5
            return
        try:
            payload = chain_input(question, [t.question for t in turns], since, until, sources, k)
        except NewsragError as e:
            raise gr.Error(user_message(e)) from e
        partial = ""
        yield (chat_messages(turns, (question, partial)), gr.skip(), "", gr.skip(), gr.skip())
        answer: Answer | None = None
        try:
            for chunk in self.chain.stream(payload):
                if not isinstance(chunk, AnswerChunk):
                    raise TypeError(f"the chain streamed a {type(chunk).__name__}, not an AnswerChunk")
                if chunk.answer:
                    partial += chunk.answer
                if chunk.final:
                    answer = chunk.model_copy(update={"answer": partial}).to_answer()
                elif chunk.answer:
                    yield (chat_messages(turns, (question, partial)),) + (gr.skip(),) * 4
        except Exception as e:  # shown to the user; the conversation is left as it was
            if not isinstance(e, NewsragError):
                log.exception("answering %r failed", question)
            yield (chat_messages(turns), gr.skip(), question, gr.skip(), gr.skip())
            raise gr.Error(user_message(e)) from e
        if answer is None:
            yield (chat_messages(turns), gr.skip(), question, gr.skip(), gr.skip())
            raise gr.Error("the chain returned no answer; the server log has the details")
        turns.append(Turn(question=question, answer=answer))
        index = len(turns) - 1
        yield (
            chat_messages(turns),
            turns,
            "",
            self.citation_choices(turns, index),
            article_placeholder(
                "Choose a citation to read it in its article." if answer.citations else "This answer has no citations."
            ),
        )

    def citation_choices(self, turns: list[Turn], index: int) -> Update:
        """The radio of citations for one answer of the conversation (nothing chosen yet)."""
        if not 0 <= index < len(turns):
            return gr.update(choices=[], value=None, label="Citations")
        cites = turns[index].answer.citations
        label = f"Citations of answer {index + 1}" if cites else f"Answer {index + 1} has no citations"
        return gr.update(choices=[(citation_label(c), citation_key(index, c.n)) for c in cites], value=None, label=label)

    def select_message(self, turns: list[Turn], evt: gr.SelectData) -> tuple[Update, str]:
        """Clicking an answer in the chat lists that answer's citations."""
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        turn = int(index) // 2 if isinstance(index, int) else -1
        if not 0 <= turn < len(turns or []):
            return gr.skip(), gr.skip()
        return self.citation_choices(turns, turn), article_placeholder()

    def show_citation(self, key: str | None, turns: list[Turn]) -> str:
        """The whole cited article with the quote highlighted (``<mark id="newsrag-hl">``)."""
        if not key:
            return article_placeholder()
        try:
            t, n = (int(x) for x in key.split(":", 1))
            citation = next(c for c in turns[t].answer.citations if c.n == n)
        except (ValueError, IndexError, StopIteration):
            return article_placeholder("That citation is no longer part of this conversation.")
        try:
            article = self.store.get_article(citation.article_id)
        except NewsragError as e:
            return article_placeholder(f"The cited article is not stored any more: {e}")
        if article.text[citation.start : citation.end] != citation.quote:
            return article_placeholder("The article changed after this answer; ask again.") + article_html(article)
        return article_html(article, citation)

    def new_chat(self) -> tuple[Any, ...]:
        return [], [], "", gr.update(choices=[], value=None, label="Citations"), article_placeholder()

    # -- articles ---------------------------------------------------------------------------------
    def article_table(self) -> Update:
        """The newest :data:`ARTICLE_ROWS` articles, and a label that says how many there are in all."""
        listed = self.store.list_articles()
        rows = [[a.title, a.date.isoformat() if a.date else "", a.source or "", a.n_sections] for a in listed[:ARTICLE_ROWS]]
        label = "Stored articles"
        if len(listed) > len(rows):
            label += f": the newest {len(rows):,} of {len(listed):,} (`newsrag articles` and the articles API list them all)"
        return gr.update(value=rows, label=label)

    def header(self) -> str:
        n = self.store.count()
        return f"# newsrag\nAnswers quoted word for word from **{n}** stored article{'s' if n != 1 else ''}."

    def refresh(self) -> tuple[Any, ...]:
        return self.article_table(), gr.update(choices=self.api.sources()), self.header()

    def upload(self, files: list[str] | str | None) -> tuple[Any, ...]:
        """Ingest uploaded files now; the chain sees them on its next question (it watches the store)."""
        paths = [files] if isinstance(files, str) else list(files or [])
        if not paths:
            return (gr.skip(),) * 5
        results, report = ingest_uploads([Path(p) for p in paths], self.settings)
        summary = f"**Upload:** {report.summary()}" if report else "**Upload:** nothing ingested."
        refused = sum(1 for r in results if r.status == "failed")
        if refused:
            summary += f" {refused} failed: see the table; nothing that was stored changed because of them."
        return (result_rows(results), summary) + self.refresh()


def build_app(chain: Any = None, settings: Settings | None = None) -> gr.Blocks:
    """The chat app over ``chain`` (default: ``build_chain(settings)``)."""
    settings = settings or get_settings()
    if chain is None:
        from ..rag.chain import build_chain

        chain = build_chain(settings)
    store = getattr(chain, "store", None) or make_store(settings)
    cb = ChatCallbacks(chain, store, settings)
    private: dict[str, Any] = {"api_visibility": "private"}

    with gr.Blocks(title="newsrag", analytics_enabled=False) as app:
        header = gr.Markdown(cb.header(), elem_id="newsrag-header")
        turns = gr.State([])
        with gr.Tab("Chat"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        elem_id="newsrag-chat",
                        label="Conversation",
                        show_label=False,
                        height=560,
                        layout="panel",
                        render_markdown=False,
                        sanitize_html=True,
                        allow_tags=False,
                        latex_delimiters=[],
                        feedback_options=None,
                        buttons=[],
                        placeholder="Ask about the stored news articles. Every sentence of an answer is cited.",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            show_label=False,
                            placeholder="Ask a question…",
                            scale=6,
                            max_length=2000,
                            elem_id="newsrag-question",
                            autofocus=True,
                        )
                        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="newsrag-ask")
                        new_chat = gr.Button("New chat", scale=1, elem_id="newsrag-new-chat")
                    gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions")
                    with gr.Accordion("Filters and settings", open=False):
                        with gr.Row():
                            since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", elem_id="newsrag-since")
                            until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", elem_id="newsrag-until")
                        sources = gr.Dropdown(
                            choices=cb.api.sources(),
                            value=[],
                            multiselect=True,
                            label="Sources",
                            info="Only articles from these sites",
                        )
                        k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Sections to retrieve (k)")
                with gr.Column(scale=2):
                    cites = gr.Radio(choices=[], label="Citations", elem_id="newsrag-citations")
                    article = gr.HTML(
                        article_placeholder(), elem_id="newsrag-article", max_height=540, js_on_load=SCROLL_TO_HIGHLIGHT_JS
                    )
        with gr.Tab("Articles"):
            table = gr.Dataframe(  # filled when a page opens (app.load below), not in every page's config
                headers=ARTICLE_HEADERS,
                type="array",
                interactive=False,
                wrap=True,
                elem_id="newsrag-articles",
                label="Stored articles",
            )
            refresh = gr.Button("Refresh list")
            files = gr.File(
                file_count="multiple",
                file_types=list(UPLOAD_SUFFIXES),
                elem_id="newsrag-upload",
                label=f"Add articles (.txt, .md, .jsonl; up to {settings.max_file_bytes:,} bytes each)",
            )
            upload_summary = gr.Markdown()
            upload_table = gr.Dataframe(
                headers=RESULT_HEADERS,
                type="array",
                interactive=False,
                wrap=True,
                elem_id="newsrag-upload-results",
                label="Upload results",
            )

        chat_io: dict[str, Any] = {
            "fn": cb.respond,
            "inputs": [question, turns, since, until, sources, k],
            "outputs": [chatbot, turns, question, cites, article],
            "concurrency_id": "answer",
            "concurrency_limit": ANSWER_CONCURRENCY,
            **private,
        }
        question.submit(**chat_io)
        ask.click(**chat_io)
        reset = [chatbot, turns, question, cites, article]
        new_chat.click(cb.new_chat, None, reset, **private)
        chatbot.clear(cb.new_chat, None, reset, **private)  # the chat's own trash button
        chatbot.select(cb.select_message, [turns], [cites, article], **private)
        cites.input(cb.show_citation, [cites, turns], [article], **private)
        listing = [table, sources, header]
        refresh.click(cb.refresh, None, listing, **private)
        app.load(cb.refresh, None, listing, **private)
        files.upload(
            cb.upload, [files], [upload_table, upload_summary, *listing], concurrency_id="ingest", concurrency_limit=1, **private
        )

        gr.api(cb.api.ask, api_name="ask", concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY)
        gr.api(cb.api.articles, api_name="articles")
        gr.api(cb.api.article, api_name="article")
    return app


def mount_options(settings: Settings) -> dict[str, Any]:
    """``gr.mount_gradio_app()`` arguments: the theme and CSS (Gradio 6 takes them here and in
    ``launch()``, not from the Blocks, so a bare mount would show the default theme) and the limits."""
    return {
        "theme": theme(),
        "css": CSS,
        "max_file_size": settings.max_file_bytes,
        "ssr_mode": False,
        "mcp_server": False,
        "footer_links": ["api"],
    }


def launch_options(settings: Settings) -> dict[str, Any]:
    """``launch()`` arguments, for running :func:`build_app` on its own (``newsrag serve`` uses :func:`mount`)."""
    return {**mount_options(settings), "share": False, "inbrowser": False}


def mount(app: Any, chain: Any = None, settings: Settings | None = None, *, path: str = "/", api_path: str = "/api") -> Any:
    """Mount the JSON API at ``api_path`` and the chat app (with its theme and CSS) at ``path`` of the
    FastAPI ``app``; returns ``app``. The API is mounted first: a Gradio app at ``/`` takes every path."""
    settings = settings or get_settings()
    if chain is None:
        from ..rag.chain import build_chain

        chain = build_chain(settings)
    app.mount(api_path, json_api(chain, ANSWER_CONCURRENCY))
    blocks = build_app(chain, settings).queue(max_size=QUEUE_SIZE)
    return gr.mount_gradio_app(app, blocks, path=path, **mount_options(settings))


def serve(host: str = "127.0.0.1", port: int = 7860, settings: Settings | None = None) -> None:
    """Start the app; on a first start with an empty store, ingest the bundled articles first."""
    settings = settings or get_settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    store = make_store(settings)
    store.check()
    if store.count() == 0:
        corpus = settings.default_corpus
        print(
            f"newsrag: the store at {store.where} is empty; ingesting the bundled articles from {corpus}",
            file=sys.stderr,
            flush=True,
        )
        from ..ingest import ingest_paths

        report = ingest_paths([corpus], settings, progress=True)
        print(f"newsrag: {report.summary()}", file=sys.stderr, flush=True)
        for err in report.errors:
            print(f"newsrag: failed: {err}", file=sys.stderr, flush=True)
    import uvicorn
    from fastapi import FastAPI

    from ..rag.chain import build_chain

    chain = build_chain(settings)
    # the first reader must not pay for loading the model's session, the store's collections or the caches
    chain.warm()
    root = mount(FastAPI(title="newsrag", docs_url=None, redoc_url=None, openapi_url=None), chain, settings)
    url = f"http://{host}:{port}"
    print(
        f"newsrag: serving {store.count()} articles at {url} (chat at /, JSON API at {url}/api/ask, "
        f"its schema at {url}/api/docs)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(root, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
