"""The UI's rendering and callbacks without a server: escaping, highlight offsets, abstentions, the
chat callback's streaming and history, uploads, and the named API endpoints. Fast (hash embedder)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import FORMATS, SEED, make_settings

from newsrag.ingest import ingest_paths
from newsrag.ingest.parse import parse_file
from newsrag.rag.citations import cite
from newsrag.rag.errors import QueryError
from newsrag.rag.models import Answer, AnswerChunk, Article, Citation
from newsrag.rag.store import make_store
from newsrag.ui.api import NewsragApi, chain_input
from newsrag.ui.render import (
    ABSTAIN_LABEL,
    HIGHLIGHT_ID,
    answer_html,
    article_html,
    chat_messages,
    citation_label,
    footnotes_html,
)

XSS = FORMATS / "xss_article.txt"
ATTACKS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    "[click me](javascript:window.__pwned=3)",
]


# -- helpers --------------------------------------------------------------------------------------
class Elements(HTMLParser):
    """Collects start tags with attributes, and the text inside <mark> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.marks: list[tuple[dict[str, str | None], str]] = []
        self._in_mark: dict[str, str | None] | None = None
        self._mark_text: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "mark":
            self._in_mark, self._mark_text = dict(attrs), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark" and self._in_mark is not None:
            self.marks.append((self._in_mark, "".join(self._mark_text)))
            self._in_mark = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_mark is not None:
            self._mark_text.append(data)


def parse(markup: str) -> Elements:
    p = Elements()
    p.feed(markup)
    p.close()
    return p


def assert_inert(markup: str) -> None:
    """No element, attribute or URL that runs script came out of the text."""
    tags = parse(markup).tags
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object", "embed", "svg")], tags
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert not (attrs.get("href") or "").lower().startswith("javascript"), (tag, attrs)


def load(path: Path) -> Article:
    return parse_file(path, 5_000_000).articles[0]


def citation_for(article: Article, start: int, end: int, n: int = 1) -> Citation:
    return cite(article, start, end, n, 0.8)


def answer_with(citations: list[Citation], text: str | None = None) -> Answer:
    text = text or "".join(f"- “{c.quote}” [{c.n}]\n" for c in citations)
    return Answer(question="q?", answer=text, abstained=False, citations=citations)


# -- escaping -------------------------------------------------------------------------------------
def test_footnotes_show_attack_text_as_text() -> None:
    article = load(XSS)
    body = article.sections[1]
    start = article.text.index("<img", body.body_start)
    end = article.text.index("lantern kits.", start) + len("lantern kits.")
    c = citation_for(article, start, end).model_copy(update={"url": "javascript:window.__pwned=4"})
    markup = footnotes_html([c])
    assert_inert(markup)
    text = "".join(parse(markup).text)
    for attack in ATTACKS[1:]:
        assert attack in text  # the literal text survives, as text
    assert "<script>window.__pwned=1</script>" in text  # the title
    assert "Organisers Promise <script>" in text  # the headline of the cited section


def test_answer_text_with_markup_and_markdown_link_is_inert() -> None:
    article = load(XSS)
    c = citation_for(article, 0, 50)
    answer = answer_with([c], text="See " + " ".join(ATTACKS) + " [1] and [7]")
    markup = answer_html(answer)
    assert_inert(markup)
    text = "".join(parse(markup).text)
    for attack in ATTACKS:
        assert attack in text
    assert markup.count('class="newsrag-ref"') == 1  # [1] is a marker; [7] has no citation, stays text
    assert "[7]" in text


def test_user_question_is_escaped_in_the_chat() -> None:
    question = 'What about <img src=x onerror="alert(1)">?'
    messages = chat_messages([], pending=(question, "partial <b>answer</b>"))
    assert [m["role"] for m in messages] == ["user", "assistant"]
    for m in messages:
        assert_inert(m["content"])
    assert html.escape(question) in messages[0]["content"]
    assert "&lt;b&gt;answer&lt;/b&gt;" in messages[1]["content"]


def test_links_only_for_http_urls() -> None:
    article = load(SEED)
    good = citation_for(article, 0, 40)
    bad = good.model_copy(update={"url": "data:text/html,<script>1</script>", "n": 2})
    tags = parse(footnotes_html([good, bad])).tags
    links = [a for t, a in tags if t == "a"]
    assert len(links) == 1
    assert links[0]["href"] == article.url
    assert links[0]["target"] == "_blank" and "noopener" in (links[0]["rel"] or "")


# -- footnotes and abstentions --------------------------------------------------------------------
def test_footnotes_number_quote_title_section_and_date() -> None:
    article = load(SEED)
    body = article.sections[1]
    c1 = citation_for(article, 0, article.sections[0].end)
    c2 = citation_for(article, body.body_start, body.end, n=2)
    markup = answer_html(answer_with([c1, c2]))
    text = " ".join(parse(markup).text)
    assert markup.count('class="newsrag-fn"') == 2
    assert "[1]" in text and "[2]" in text
    assert "Lead" in text  # the first section has no headline
    assert body.headline and body.headline in text
    assert "2025-02-12" in text and article.title in text
    assert markup.count('class="newsrag-ref"') == 2  # markers in the text match the footnotes


def test_abstention_is_labelled_and_has_no_citations() -> None:
    answer = Answer(question="bananas?", answer="The stored articles do not answer this question.", abstained=True)
    markup = answer_html(answer)
    assert 'class="newsrag-abstain"' in markup and ABSTAIN_LABEL in markup
    assert "newsrag-fn" not in markup and "newsrag-ref" not in markup and "newsrag-answer" not in markup
    assert "newsrag-abstain" not in answer_html(answer_with([citation_for(load(SEED), 0, 30)]))


# -- the article view ------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["lead", "body", "headline+body", "xss-body"])
def test_highlight_is_exactly_the_cited_span(which: str) -> None:
    article = load(XSS if which == "xss-body" else SEED)
    sec = article.sections[1]
    start, end = {
        "lead": (0, 60),
        "body": (sec.body_start + 4, sec.end - 10),
        "headline+body": (sec.start + 3, sec.body_start + 30),
        "xss-body": (sec.body_start, sec.end),
    }[which]
    c = citation_for(article, start, end)
    markup = article_html(article, c)
    assert_inert(markup)
    marks = parse(markup).marks
    assert "".join(text for _, text in marks) == article.text[start:end] == c.quote
    assert [attrs.get("id") for attrs, _ in marks][:1] == [HIGHLIGHT_ID]
    assert sum(1 for attrs, _ in marks if attrs.get("id") == HIGHLIGHT_ID) == 1
    # ... and the text around the mark is the article, nothing lost or doubled (whitespace aside)
    shown = "".join(parse(markup.split('class="newsrag-article-meta"', 1)[1].split("</div>", 1)[1]).text)
    assert "".join(shown.split()) == "".join(article.text.split())


def test_article_view_shows_every_section_title_date_and_source_link() -> None:
    article = load(XSS)
    markup = article_html(article)
    assert_inert(markup)
    p = parse(markup)
    text = "".join(p.text)
    assert not p.marks
    assert article.title in text and "2025-10-04" in text
    headlines = [data for data in p.text if data in {s.headline for s in article.sections}]
    assert headlines == [s.headline for s in article.sections if s.headline]
    for s in article.sections:  # every body, word for word
        assert " ".join(article.text[s.body_start : s.end].split()) in " ".join(text.split())
    links = [a for t, a in p.tags if t == "a"]
    assert [a["href"] for a in links] == [article.url]


def test_citation_label_is_short_and_numbered() -> None:
    article = load(SEED)
    c = citation_for(article, 0, article.sections[0].end, n=3)
    label = citation_label(c)
    assert label.startswith("[3] " + article.title) and label.endswith("…”") and len(label) < 200


# -- chain input and callbacks --------------------------------------------------------------------
def test_chain_input_drops_empty_filters() -> None:
    assert chain_input(" Q? ", ["earlier"], "", " ", [], 0) == {"question": "Q?", "history": ["earlier"], "filters": {}}
    full = chain_input("Q?", None, "2025-01-01", "2025-12-31", ["a.example"], 7.0)
    assert full["filters"] == {"since": "2025-01-01", "until": "2025-12-31", "sources": ["a.example"]}
    assert full["k"] == 7
    with pytest.raises(QueryError):
        chain_input("   ")
    with pytest.raises(QueryError, match="filters.until '31/12/2025' is not a real YYYY-MM-DD date"):
        chain_input("Q?", until="31/12/2025")


class ScriptedChain:
    """Streams a fixed answer in pieces and records what it was asked."""

    def __init__(self, store: Any, answer: Answer) -> None:
        self.store = store
        self.answer = answer
        self.inputs: list[dict[str, Any]] = []

    def stream(self, payload: dict[str, Any]) -> Iterator[AnswerChunk]:
        self.inputs.append(payload)
        text = self.answer.answer
        yield AnswerChunk(answer=text[: len(text) // 2])
        yield AnswerChunk(answer=text[len(text) // 2 :])
        final = self.answer.model_copy(update={"question": payload["question"], "answer": ""})
        yield AnswerChunk.model_validate({**final.model_dump(), "final": True})

    def invoke(self, payload: dict[str, Any]) -> Answer:
        chunks = list(self.stream(payload))
        return sum(chunks[1:], chunks[0]).to_answer()


@pytest.fixture
def hash_store(tmp_path: Path) -> Any:
    settings = make_settings(tmp_path / "home", embedding_model="hash-384")
    ingest_paths([SEED, XSS], settings, progress=False)
    return settings, make_store(settings)


def test_chat_callback_streams_and_feeds_history(hash_store: Any) -> None:
    from newsrag.ui.app import ChatCallbacks

    settings, store = hash_store
    article = next(store.get_article(a.id) for a in store.list_articles() if a.source == "sputnikglobe.com")
    sec = article.sections[1]
    chain = ScriptedChain(store, answer_with([citation_for(article, sec.body_start, sec.end)]))
    cb = ChatCallbacks(chain, store, settings)

    steps = list(cb.respond("What did Hegseth say about borders?", [], "", "", [], 5))
    assert len(steps) >= 3  # the question, pieces of the answer, the final answer
    assert "newsrag-pending" in steps[1][0][-1]["content"]
    chat, turns, box, radio, view = steps[-1]
    assert box == "" and len(turns) == 1
    assert turns[0].answer.answer == chain.answer.answer  # the streamed deltas, joined: the whole text
    assert "newsrag-footnotes" in chat[-1]["content"]
    assert radio["choices"] == [(citation_label(turns[0].answer.citations[0]), "0:1")]

    list(cb.respond("Did he say anything about troops?", turns, "2025-01-01", "", ["sputnikglobe.com"], 3))
    assert chain.inputs[1]["history"] == ["What did Hegseth say about borders?"]
    assert chain.inputs[1]["filters"] == {"since": "2025-01-01", "sources": ["sputnikglobe.com"]}
    assert chain.inputs[1]["k"] == 3

    view = cb.show_citation("0:1", turns)
    assert parse(view).marks[0][1] == article.text[sec.body_start : sec.end]
    assert "no longer part" in cb.show_citation("5:1", turns)


def test_chat_callback_reports_chain_errors_and_keeps_the_question(hash_store: Any) -> None:
    import gradio as gr

    from newsrag.ui.app import ChatCallbacks

    class Failing(ScriptedChain):
        def stream(self, payload: dict[str, Any]) -> Iterator[AnswerChunk]:
            yield AnswerChunk(answer="One article")
            raise QueryError("filters.sources must be a list of strings")

    settings, store = hash_store
    cb = ChatCallbacks(Failing(store, Answer(question="", answer="", abstained=True)), store, settings)
    steps = []
    with pytest.raises(gr.Error, match="filters.sources must be a list"):
        for step in cb.respond("Q?", [], "", "", [], 5):
            steps.append(step)
    chat, _, box, *_ = steps[-1]
    assert chat == [] and box == "Q?"  # the half answer is gone and the question is back in the box


def test_upload_adds_good_files_and_reports_bad_ones(hash_store: Any, tmp_path: Path) -> None:
    from newsrag.ui.app import ChatCallbacks

    settings, store = hash_store
    before = {a.id: a.model_dump() for a in store.list_articles()}
    folder = tmp_path / "incoming"
    folder.mkdir()
    good = folder / "plain_article.txt"
    good.write_bytes((FORMATS / "plain_article.txt").read_bytes())
    binary = folder / "broken.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage\x9c" * 10)
    big = folder / "big.md"
    big.write_bytes(b"x" * (settings.max_file_bytes + 1))
    other = folder / "notes.pdf"
    other.write_bytes(b"%PDF-1.4")
    again = folder / "xss_article.txt"
    again.write_bytes(XSS.read_bytes())  # the same URL as a stored article, from another file

    cb = ChatCallbacks(object(), store, settings)
    rows, summary, table, *_ = cb.upload([str(p) for p in (good, binary, big, other, again)])
    status = {r[0]: (r[1], r[3]) for r in rows}
    assert status["plain_article.txt"][0] == "added"
    assert status["broken.txt"][0] == "failed" and status["broken.txt"][1]
    assert status["big.md"][0] == "failed" and "limit" in status["big.md"][1]
    assert status["notes.pdf"][0] == "failed" and "not an article file" in status["notes.pdf"][1]
    assert status["xss_article.txt"][0] == "failed"
    assert "failed" in summary
    after = {a.id: a.model_dump() for a in store.list_articles()}
    assert {k: v for k, v in after.items() if k in before} == before  # nothing stored was touched
    assert len(after) == len(before) + 1 and len(table["value"]) == len(after)
    kept = sorted(p.name for p in (settings.home / "uploads").rglob("*") if p.is_file())
    assert kept == ["plain_article.txt"]  # failed uploads leave no copies behind

    rows, *_ = cb.upload([str(good)])
    assert [r[1] for r in rows] == ["unchanged"]


def test_the_article_table_shows_the_newest_articles_and_says_how_many_there_are(
    hash_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Articles tab is filled when a page opens, with the newest ``ARTICLE_ROWS`` articles (a table of
    every article was 1 MB of each page at 10,000); its label then says how many are stored in all."""
    from newsrag.ui import app as app_module
    from newsrag.ui.app import ChatCallbacks, build_app

    settings, store = hash_store
    listed = store.list_articles()
    cb = ChatCallbacks(object(), store, settings)
    whole = cb.article_table()
    assert whole["label"] == "Stored articles" and [r[0] for r in whole["value"]] == [a.title for a in listed]

    monkeypatch.setattr(app_module, "ARTICLE_ROWS", 1)
    table, sources, header = cb.refresh()
    assert [r[0] for r in table["value"]] == [listed[0].title] and len(listed) == 2
    assert table["label"] == "Stored articles: the newest 1 of 2 (`newsrag articles` and the articles API list them all)"
    assert sources["choices"] == sorted({a.source for a in listed if a.source}) and "**2** stored articles" in header

    config = build_app(object(), settings).get_config_file()
    [frame] = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "newsrag-articles"]
    assert frame["props"]["value"]["data"] == []  # in no page's config: the page fills it when it opens


def test_app_names_its_api_endpoints(hash_store: Any) -> None:
    from newsrag.ui.app import build_app

    settings, store = hash_store
    article = store.list_articles()[0]
    chain = ScriptedChain(store, Answer(question="", answer="none", abstained=True))
    app = build_app(chain, settings)
    public = {d.api_name for d in app.fns.values() if d.api_visibility == "public"}
    assert {"ask", "articles", "article"} <= public
    api = NewsragApi(chain, store)
    got = api.ask("What did Hegseth say about borders?", since="2025-01-01")
    assert Answer.model_validate(got).question == "What did Hegseth say about borders?"
    assert chain.inputs[-1]["filters"] == {"since": "2025-01-01"}
    listed = api.articles()
    assert {a["id"] for a in listed} == {a.id for a in store.list_articles()}
    assert all("path" not in a for a in listed)  # server paths stay on the server
    assert api.article(article.id)["text"]
    assert dt.date.fromisoformat(listed[0]["date"])
