"""Look of the app: a theme with local fonts only (no font CDN), the CSS for answers, footnotes,
abstentions and the article view, and the script that scrolls the highlighted quote into view."""

from __future__ import annotations

from typing import Any

__all__ = ["CSS", "SCROLL_TO_HIGHLIGHT_JS", "theme"]

CSS = """
.newsrag-text { line-height: 1.55; }
.newsrag-ref { color: var(--color-accent); font-weight: 600; }
.newsrag-footnotes { list-style: none; margin: .75em 0 0; padding: .6em 0 0;
  border-top: 1px solid var(--border-color-primary); font-size: .92em; }
.newsrag-fn { margin: 0 0 .6em; padding: 0; }
.newsrag-fn-n { color: var(--color-accent); font-weight: 700; margin-right: .25em; }
.newsrag-quote { font-style: italic; }
.newsrag-fn-meta { color: var(--body-text-color-subdued); font-size: .92em; margin-top: .15em; }
.newsrag-fn-section { font-weight: 600; }
.newsrag-abstain { border-left: 4px solid #d97706; background: rgba(217, 119, 6, .10);
  padding: .5em .75em; border-radius: 4px; }
.newsrag-abstain-label { font-weight: 700; color: #b45309; margin-bottom: .3em; }
.newsrag-pending { opacity: .75; }
#newsrag-article { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  padding: .25em 1em 1em; background: var(--background-fill-primary); }
.newsrag-article-title { margin: .6em 0 .2em; font-size: 1.15em; }
.newsrag-article-meta { color: var(--body-text-color-subdued); font-size: .9em; margin-bottom: .6em; }
.newsrag-headline { margin: .9em 0 .3em; font-size: 1em; }
.newsrag-body { white-space: pre-wrap; line-height: 1.55; }
mark.newsrag-hl { background: #fde68a; color: #111827; padding: 0 .1em; border-radius: 2px; }
.newsrag-article-empty { color: var(--body-text-color-subdued); padding: 1em 0; }
#newsrag-header h1 { margin-bottom: 0; }
"""

#: Runs in the article view (``gr.HTML(js_on_load=...)``): after every re-render of its value, scroll the
#: panel (not the page) so the highlighted quote is in view; the page only moves if the panel is off screen.
SCROLL_TO_HIGHLIGHT_JS = """
const reveal = () => {
  const mark = element.querySelector('#newsrag-hl');
  if (!mark) { return; }
  let box = mark.parentElement;
  while (box && box !== document.body && box.scrollHeight <= box.clientHeight + 1) { box = box.parentElement; }
  if (box && box !== document.body) {
    const offset = mark.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop += offset - box.clientHeight / 4;
  }
  const seen = mark.getBoundingClientRect();
  if (seen.bottom < 0 || seen.top > window.innerHeight) { mark.scrollIntoView({block: 'center'}); }
};
watch('value', reveal);
reveal();
"""


def theme() -> Any:
    """Gradio's Soft theme with system fonts (the default pulls fonts from Google, which we never contact)."""
    import gradio as gr

    return gr.themes.Soft(
        primary_hue="blue",
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )
