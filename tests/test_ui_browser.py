"""The app in Debian's Chromium (Playwright, headless), against ``newsrag serve`` started by the test:
ask, read the footnotes, open a citation in its article with the quote highlighted, upload an article
whose text is an XSS attempt and check it stays text, abstentions, and a new chat.

Never runs ``playwright install``: the browser is /usr/bin/chromium. Only 127.0.0.1 is contacted; any
other request the page makes is aborted and fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FORMATS, REPO

from newsrag.eval.servers import ServerProcess, running_server

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = REPO / "docs" / "screenshot.png"
BORDERS = "What did Hegseth say about borders?"
TITLE = "Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"
TIMEOUT = 60_000  # ms; the first question of a server also loads the model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with running_server(tmp_path_factory.mktemp("ui-browser") / "home") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(server: ServerProcess) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: ServerProcess) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(server.url) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(server.url)
    page.locator("#newsrag-question textarea, #newsrag-question input").first.wait_for(timeout=TIMEOUT)
    yield page
    context.close()
    assert not outside, f"the page tried to reach other hosts: {outside}"


def ask(page: Any, question: str) -> Any:
    """Type a question, send it, and return the locator of the new last answer in the chat."""
    from playwright.sync_api import expect

    before = page.locator("#newsrag-chat .newsrag-answer, #newsrag-chat .newsrag-abstain").count()
    box = page.locator("#newsrag-question textarea, #newsrag-question input").first
    box.fill(question)
    page.locator("#newsrag-ask").click()
    answers = page.locator("#newsrag-chat .newsrag-answer, #newsrag-chat .newsrag-abstain")
    expect(answers).to_have_count(before + 1, timeout=TIMEOUT)
    return answers.last


def choose_citation(page: Any, text: str) -> Any:
    """Pick the citation whose label contains ``text``; return the highlighted mark once it shows."""
    page.locator("#newsrag-citations label").filter(has_text=text).first.click()
    mark = page.locator("#newsrag-article mark#newsrag-hl")
    mark.wait_for(timeout=TIMEOUT)
    return mark


def test_answer_footnotes_and_highlighted_source(page: Any, server: ServerProcess) -> None:
    from playwright.sync_api import expect

    answer = ask(page, BORDERS)
    footnote = answer.locator(".newsrag-fn").filter(has_text="pre-2014 borders").first
    expect(footnote).to_be_visible()
    quote = footnote.locator(".newsrag-quote").text_content() or ""
    assert "pre-2014 borders" in quote
    link = footnote.locator("a.newsrag-fn-title")
    expect(link).to_have_text(TITLE)
    assert (link.get_attribute("href") or "").startswith("https://sputnikglobe.com/")
    assert link.get_attribute("target") == "_blank" and "noopener" in (link.get_attribute("rel") or "")
    n = (footnote.locator(".newsrag-fn-n").text_content() or "").strip()
    assert n in (answer.locator(".newsrag-text").text_content() or "")  # the marker matches the footnote

    mark = choose_citation(page, "pre-2014 borders")
    assert mark.text_content() == quote
    view = page.locator("#newsrag-article")
    expect(view.locator(".newsrag-article-title")).to_have_text(TITLE)
    expect(view.locator(".newsrag-headline").first).to_be_visible()
    assert view.locator(".newsrag-headline").count() >= 4  # every section under its headline
    expect(view.locator("a.newsrag-source")).to_have_text("sputnikglobe.com")
    expect(mark).to_be_in_viewport()
    page.wait_for_timeout(300)  # let the scroll settle before the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_article_text_is_never_markup(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Articles").click()
    page.locator("#newsrag-upload input[type=file]").set_input_files(str(FORMATS / "xss_article.txt"))
    results = page.locator("#newsrag-upload-results")
    expect(results).to_contain_text("added", timeout=TIMEOUT)
    expect(results).to_contain_text("xss_article.txt")
    expect(page.locator("#newsrag-articles")).to_contain_text("Lantern Festival <script>window.__pwned=1</script>")

    page.get_by_role("tab", name="Chat").click()
    answer = ask(page, "What happened at the lantern festival?")
    expect(answer).to_contain_text("<script>window.__pwned=1</script>")  # the title, as text
    mark = choose_citation(page, "Lantern Festival")
    view = page.locator("#newsrag-article")
    expect(view.locator(".newsrag-article-title")).to_have_text(
        "Lantern Festival <script>window.__pwned=1</script> Lights Up Port Ellery Harbour Front"
    )
    expect(view).to_contain_text('<img src=x onerror="window.__pwned=2">')
    expect(view).to_contain_text("[click me](javascript:window.__pwned=3)")
    assert mark.text_content()

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("[onerror]").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.evaluate("[...document.querySelectorAll('script')].filter(s => s.textContent.includes('__pwned')).length") == 0
    assert page.get_by_text("<script>window.__pwned=1</script>").first.is_visible()


def test_abstention_looks_different_and_new_chat_clears(page: Any) -> None:
    from playwright.sync_api import expect

    ask(page, BORDERS)
    abstain = ask(page, "What is the price of bananas in Peru?")
    expect(abstain).to_have_class("newsrag-abstain")
    expect(abstain.locator(".newsrag-abstain-label")).to_have_text("⚠ No answer in the stored articles")
    assert abstain.locator(".newsrag-fn, .newsrag-ref").count() == 0
    expect(page.locator("#newsrag-citations")).to_contain_text("has no citations")
    assert page.locator("#newsrag-citations label").count() == 0

    page.locator("#newsrag-chat .newsrag-answer").first.click()  # an earlier answer's citations come back
    expect(page.locator("#newsrag-citations label").first).to_contain_text(TITLE)

    page.locator("#newsrag-new-chat").click()
    expect(page.locator("#newsrag-chat .newsrag-answer, #newsrag-chat .newsrag-abstain")).to_have_count(0)
    assert page.locator("#newsrag-citations label").count() == 0


def test_bad_date_filter_is_reported_and_the_question_kept(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_text("Filters and settings").click()
    page.locator("#newsrag-since input, #newsrag-since textarea").first.fill("last week")
    box = page.locator("#newsrag-question textarea, #newsrag-question input").first
    box.fill(BORDERS)
    page.locator("#newsrag-ask").click()
    expect(page.get_by_text("filters.since 'last week' is not a real YYYY-MM-DD date")).to_be_visible(timeout=TIMEOUT)
    expect(box).to_have_value(BORDERS)
    assert page.locator("#newsrag-chat .newsrag-answer, #newsrag-chat .newsrag-abstain").count() == 0
