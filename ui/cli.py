"""The ``newsrag`` command line. Options bind to the same ``NEWSRAG_*`` variables as :class:`Settings`."""

from __future__ import annotations

import gc
import json
import logging
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import click

from ..rag.errors import NewsragError
from ..rag.settings import Settings

__all__ = ["main", "cli"]

F = TypeVar("F", bound=Callable[..., Any])


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(ctx.obj or {})
    base.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**base)
    except ValueError as e:
        raise click.ClickException(_setting_error(e)) from e


def _setting_error(error: ValueError) -> str:
    """One line per bad setting, named as the user sets it: ``NEWSRAG_TOP_K='abc': Input should be ...``."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return f"bad setting: {error}"
    parts = []
    for err in error.errors():
        name = "NEWSRAG_" + "_".join(str(x) for x in err.get("loc", ())).upper()
        value = err.get("input")
        shown = f"={value!r}" if isinstance(value, (str, int, float)) else ""
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(message if message.startswith(name) else f"{name}{shown}: {message}")
    return "bad setting: " + "; ".join(parts)


def _text(value: str, name: str) -> str:
    """A command-line argument as UTF-8 text, or a one-line error naming it. Python hands over bytes that
    are not UTF-8 as lone surrogates, which no later step (the embedder, JSON, the terminal) can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = value[e.start]
        what = f"byte 0x{ord(bad) - 0xDC00:02x}" if 0xDC80 <= ord(bad) <= 0xDCFF else f"lone surrogate U+{ord(bad):04X}"
        shown = value.encode("utf-8", "surrogateescape" if what.startswith("byte") else "replace")
        raise click.ClickException(
            f"{name} '{shown.decode('utf-8', 'backslashreplace')[:60]}' is not valid UTF-8 text ({what} at "
            f"character {e.start}); retype it, or set the terminal to UTF-8"
        ) from None
    return value


def _fail_on(fn: F) -> F:
    """Translate newsrag errors to a one-line message and exit code 1 (only the edge does this)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NewsragError as e:
            raise click.ClickException(str(e)) from e

    return wrapper  # type: ignore[return-value]


def _collector_paused(fn: F) -> F:
    """Run the command with the garbage collector paused: in a one-question process it would only walk the
    ~140k objects that the imports made, again and again (0.3 s of a cold ask at 10,000 articles,
    docs/benchmarks.md "Cold start"). An app or a test that runs the command in its own process gets its
    collector back."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return wrapper  # type: ignore[return-value]


class _Commands(click.Group):
    """Built-in commands, plus commands that other layers or packages register under the
    ``newsrag.commands`` entry-point group (``newsrag eval`` comes from :mod:`newsrag.eval.cli` this way,
    so that the CLI does not import the layer above it). Entry points are read only for unknown names."""

    def _plugins(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group="newsrag.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        ep = self._plugins().get(name)
        return ep.load() if ep is not None else None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="NEWSRAG_HOME", type=click.Path(path_type=Path), help="Data folder [NEWSRAG_HOME].")
@click.option("--chroma-url", envvar="NEWSRAG_CHROMA_URL", help="Chroma server URL [NEWSRAG_CHROMA_URL].")
@click.option("--model", "embedding_model", envvar="NEWSRAG_EMBEDDING_MODEL", help="Embedding model [NEWSRAG_EMBEDDING_MODEL].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, chroma_url: str | None, embedding_model: str | None, verbose: int) -> None:
    """newsrag: answers over news articles, every claim backed by an exact quote."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {k: v for k, v in {"home": home, "chroma_url": chroma_url, "embedding_model": embedding_model}.items() if v}


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--prune", is_flag=True, help="Remove stored articles whose files are gone.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on in a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@_fail_on
def ingest(ctx: click.Context, paths: tuple[str, ...], prune: bool, progress: bool | None, as_json: bool) -> None:
    """Ingest article files, folders or globs (.txt, .md, .jsonl)."""
    from ..ingest import ingest_paths

    # a path that is not UTF-8 is reported as a failed input by ingest itself (it names a real file)

    report = ingest_paths(list(paths), _settings(ctx), prune=prune, progress=progress)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        for r in report.results:
            if r.status == "failed":
                click.echo(f"failed: {r.where}: {r.reason}", err=True)
            elif r.status in ("added", "updated", "pruned"):
                click.echo(f"{r.status}: {r.where} ({r.article_id})")
        click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_fail_on
def articles(ctx: click.Context, as_json: bool) -> None:
    """List stored articles."""
    from ..rag.store import make_store

    items = make_store(_settings(ctx)).list_articles()
    if as_json:
        click.echo(json.dumps([a.model_dump(mode="json") for a in items], indent=2, ensure_ascii=False))
        return
    for a in items:
        click.echo(f"{a.id}  {a.date or '----------'}  {a.source or '-':<22} {a.n_sections:>3} sections  {a.title}")
    click.echo(f"{len(items)} articles")


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Full text with sections and sentences as spans.")
@click.pass_context
@_fail_on
def article(ctx: click.Context, article_id: str, as_json: bool) -> None:
    """Show one stored article."""
    from ..rag.store import make_store

    a = make_store(_settings(ctx)).get_article(_text(article_id, "ID"))
    if as_json:
        click.echo(a.model_dump_json(indent=2))
        return
    click.echo(f"{a.title}\n{a.date or ''} {a.url or a.path or ''}\n")
    for s in a.sections:
        if s.headline:
            click.echo(f"## {s.headline}")
        click.echo(a.text[s.body_start : s.end].strip() + "\n")


@cli.command()
@click.argument("article_ids", nargs=-1, required=True)
@click.pass_context
@_fail_on
def delete(ctx: click.Context, article_ids: tuple[str, ...]) -> None:
    """Delete stored articles by id."""
    from ..rag.errors import NotFoundError
    from ..rag.store import make_store

    ids = list(dict.fromkeys(_text(i, "ID") for i in article_ids))  # `delete ID ID` deletes it once
    store = make_store(_settings(ctx))
    with store.exclusive("newsrag delete"):
        found = store.get_articles(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError(f"no article with id {', '.join(missing)}; nothing deleted (`newsrag articles` lists ids)")
        with store.writing("newsrag delete"):
            store.delete(ids)
    for i in ids:
        click.echo(f"deleted {i}: {found[i].title}")


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@click.option("--history", multiple=True, help="An earlier user question (repeat, oldest first).")
@click.option("--since", help="Only articles dated on or after YYYY-MM-DD.")
@click.option("--until", help="Only articles dated on or before YYYY-MM-DD.")
@click.option("--source", "sources", multiple=True, help="Only articles from this domain (repeatable).")
@click.option("-k", "k", type=click.IntRange(1, 50), help="Sections to retrieve [NEWSRAG_TOP_K].")
@click.option("--answerer", envvar="NEWSRAG_ANSWERER", help="extractive | openai | ollama | gguf")
@click.pass_context
@_fail_on
@_collector_paused
def ask(
    ctx: click.Context,
    question: str,
    as_json: bool,
    history: tuple[str, ...],
    since: str | None,
    until: str | None,
    sources: tuple[str, ...],
    k: int | None,
    answerer: str | None,
) -> None:
    """Answer a question with quote-level citations."""
    from ..rag.embed import make_embedder
    from ..rag.store import QUESTION_READS, make_store

    question = _text(question, "QUESTION")
    history = tuple(_text(h, "--history") for h in history)
    since, until = (_text(v, name) if v else v for v, name in ((since, "--since"), (until, "--until")))
    sources = tuple(_text(v, "--source") for v in sources)
    settings = _settings(ctx, answerer=answerer)
    embedder = make_embedder(settings)
    store = make_store(settings, model=embedder.name)
    store.check()  # a store of another model says so now, not after the model's first export
    # the model's session and the store's collections load on two threads, outside the GIL, while the
    # chain's modules (LangChain's, 1.1 s) are imported (docs/benchmarks.md "Cold start")
    with ThreadPoolExecutor(2, thread_name_prefix="newsrag-load") as pool:
        loading: list[Future[Any]] = [pool.submit(embedder.encode, [question]), pool.submit(store.load, QUESTION_READS)]
        from ..rag.chain import build_chain

        chain = build_chain(settings, store=store, embedder=embedder)
        for done in loading:
            done.result()
    filters: dict[str, Any] = {"since": since, "until": until, "sources": list(sources) or None}
    payload: dict[str, Any] = {
        "question": question,
        "history": list(history),
        "filters": {k_: v for k_, v in filters.items() if v},
    }
    if k:
        payload["k"] = k
    answer = chain.invoke(payload)
    if as_json:  # the one JSON form of an Answer (the HTTP API sends the same)
        click.echo(json.dumps(answer.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    from .terminal import citations_text

    click.echo(answer.answer)
    if answer.citations:
        click.echo("\n" + citations_text(answer))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=7860, show_default=True, type=int)
@click.pass_context
@_fail_on
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Start the browser chat (ingests the bundled articles on a first start)."""
    from .app import serve as serve_app

    serve_app(host=host, port=port, settings=_settings(ctx))


@cli.command()
@click.pass_context
@_fail_on
def reindex(ctx: click.Context) -> None:
    """Re-embed every stored article with the configured embedding model."""
    from ..ingest.reindex import reindex as run

    settings = _settings(ctx)
    n = run(settings)
    click.echo(f"re-embedded {n} articles with {settings.embedding_model}")


def main() -> None:
    """The console script: one command, then the process ends."""
    try:
        cli(prog_name="newsrag")
    finally:
        # the interpreter's exit would walk every object the command left to collect cycles nobody needs
        # collected any more: 0.7 s after a cold ask at 10,000 articles (docs/benchmarks.md "Cold start")
        gc.freeze()


if __name__ == "__main__":
    main()
