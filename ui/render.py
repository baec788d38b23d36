"""HTML for the chat and the sources panel, built from :class:`Answer` and :class:`Article` records.

Every piece of article or user text goes through :func:`html.escape` before it touches markup, so a title
like ``<script>…</script>`` or a quote containing ``<img onerror=…>`` is shown as text. The chatbot renders
these strings as HTML without Markdown (``render_markdown=False``) and keeps Gradio's sanitizer on, so
``[x](javascript:…)`` stays literal text too. Links are only made for ``http(s)`` URLs.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from ..rag.models import Answer, Article, Citation

__all__ = [
    "Turn",
    "HIGHLIGHT_ID",
    "ABSTAIN_LABEL",
    "escape_text",
    "safe_url",
    "answer_html",
    "pending_html",
    "footnotes_html",
    "chat_messages",
    "citation_label",
    "citation_key",
    "article_html",
    "article_placeholder",
]

#: The element id of the highlighted quote in the sources panel (the page scrolls it into view).
HIGHLIGHT_ID = "newsrag-hl"
ABSTAIN_LABEL = "No answer in the stored articles"
_MARKER = re.compile(r"\[(\d{1,3})\]")
_PRE = ' style="white-space: pre-wrap"'


@dataclass
class Turn:
    """One exchange of a conversation: the user's question as typed and the chain's answer."""

    question: str
    answer: Answer


def escape_text(text: str) -> str:
    """Escape text for HTML and keep its line breaks visible."""
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def safe_url(url: str | None) -> str | None:
    """The URL, attribute-escaped, if it is an absolute http(s) URL; else None (no link is made)."""
    if not url or not re.match(r"^https?://[^\s<>\"']+$", url.strip(), re.I):
        return None
    return html.escape(url.strip(), quote=True)


def _link(url: str | None, text: str, cls: str = "") -> str:
    label = html.escape(text)
    href = safe_url(url)
    if href is None:
        return f'<span class="{cls}">{label}</span>' if cls else label
    cls_attr = f' class="{cls}"' if cls else ""
    return f'<a{cls_attr} href="{href}" target="_blank" rel="noopener noreferrer">{label}</a>'


def _marked_text(text: str, numbers: set[int]) -> str:
    """Escaped answer text whose citation markers ``[n]`` are styled (other brackets stay as typed)."""
    out, pos = [], 0
    for m in _MARKER.finditer(text):
        if int(m.group(1)) not in numbers:
            continue
        out.append(escape_text(text[pos : m.start()]))
        out.append(f'<sup class="newsrag-ref">[{int(m.group(1))}]</sup>')
        pos = m.end()
    out.append(escape_text(text[pos:]))
    return "".join(out)


def footnotes_html(citations: list[Citation]) -> str:
    """Numbered footnotes: the quote, the article title linking to its URL, the section and the date."""
    if not citations:
        return ""
    items = []
    for c in citations:
        meta = [
            _link(c.url, c.title, "newsrag-fn-title"),
            f'<span class="newsrag-fn-section">{html.escape(c.headline or "Lead")}</span>',
        ]
        if c.date:
            meta.append(f'<time class="newsrag-fn-date">{c.date.isoformat()}</time>')
        if c.source:
            meta.append(f'<span class="newsrag-fn-source">{html.escape(c.source)}</span>')
        items.append(
            f'<li class="newsrag-fn"><span class="newsrag-fn-n">[{c.n}]</span> '
            f'<q class="newsrag-quote">{escape_text(c.quote)}</q>'
            f'<div class="newsrag-fn-meta">{" · ".join(meta)}</div></li>'
        )
    return f'<ul class="newsrag-footnotes">{"".join(items)}</ul>'


def answer_html(answer: Answer) -> str:
    """An answer with its footnotes, or an abstention: a labelled notice and no citations."""
    if answer.abstained:
        return (
            '<div class="newsrag-abstain">'
            f'<div class="newsrag-abstain-label">⚠ {ABSTAIN_LABEL}</div>'
            f'<div class="newsrag-text">{escape_text(answer.answer)}</div></div>'
        )
    numbers = {c.n for c in answer.citations}
    return (
        '<div class="newsrag-answer">'
        f'<div class="newsrag-text">{_marked_text(answer.answer, numbers)}</div>'
        f"{footnotes_html(answer.citations)}</div>"
    )


def pending_html(text: str) -> str:
    """The answer while it streams in (markers are styled once the citations are known)."""
    return f'<div class="newsrag-pending"><div class="newsrag-text">{escape_text(text) or "…"}</div></div>'


def chat_messages(turns: list[Turn], pending: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Chatbot messages (role/content dicts) for the conversation, plus an in-progress exchange."""
    messages: list[dict[str, Any]] = []
    for t in turns:
        messages.append({"role": "user", "content": escape_text(t.question)})
        messages.append({"role": "assistant", "content": answer_html(t.answer)})
    if pending is not None:
        question, partial = pending
        messages.append({"role": "user", "content": escape_text(question)})
        messages.append({"role": "assistant", "content": pending_html(partial)})
    return messages


def citation_key(turn: int, n: int) -> str:
    return f"{turn}:{n}"


def citation_label(c: Citation, width: int = 90) -> str:
    """A one-line label for choosing a citation (shown by Gradio as plain text)."""
    quote = " ".join(c.quote.split())
    if len(quote) > width:
        quote = quote[: width - 1].rstrip() + "…"
    return f"[{c.n}] {c.title} — “{quote}”"


def article_placeholder(message: str = "Choose a citation to read it in its article.") -> str:
    return f'<div class="newsrag-article-empty">{html.escape(message)}</div>'


def _segment(text: str, lo: int, hi: int, start: int, end: int, first: bool) -> tuple[str, bool]:
    """Escaped ``text[lo:hi]`` with its overlap with ``[start, end)`` wrapped in ``<mark>``.

    Newlines are kept (the block is ``white-space: pre-wrap``) so the mark's text is exactly the quote;
    whitespace at the block's outer ends is dropped. Returns the HTML and whether a mark was placed (the
    id goes on the first mark only).
    """
    a, b = max(lo, start), min(hi, end)
    if a >= b:
        return html.escape(text[lo:hi].strip()), False
    mark_id = f' id="{HIGHLIGHT_ID}"' if first else ""
    return (
        html.escape(text[lo:a].lstrip())
        + f'<mark class="newsrag-hl"{mark_id}>{html.escape(text[a:b])}</mark>'
        + html.escape(text[b:hi].rstrip())
    ), True


def article_html(article: Article, citation: Citation | None = None) -> str:
    """The whole article (title, date, source link, every section under its headline) with the cited
    span ``article.text[citation.start:citation.end]`` highlighted."""
    start, end = (citation.start, citation.end) if citation else (-1, -1)
    text = article.text
    meta = []
    if article.date:
        meta.append(f"<time>{article.date.isoformat()}</time>")
    if article.source or article.url:
        meta.append(_link(article.url, article.source or article.url or "", "newsrag-source"))
    meta.append(f"{len(article.sections)} sections")
    parts = [
        f'<article class="newsrag-article"><h3 class="newsrag-article-title">{html.escape(article.title)}</h3>',
        f'<div class="newsrag-article-meta">{" · ".join(meta)}</div>',
    ]
    placed = False
    # Spans cover the text in order: any text before the first section, each section, any tail.
    bounds = [(s.start, s.body_start, s.end, s.headline) for s in sorted(article.sections, key=lambda s: s.start)]
    pos = 0
    for s_start, body_start, s_end, headline in bounds or [(0, 0, len(text), None)]:
        if s_start > pos:
            seg, hit = _segment(text, pos, s_start, start, end, not placed)
            parts.append(f'<div class="newsrag-body"{_PRE}>{seg}</div>')
            placed = placed or hit
        parts.append('<section class="newsrag-section">')
        if body_start > s_start:
            seg, hit = _segment(text, s_start, body_start, start, end, not placed)
            parts.append(f'<h4 class="newsrag-headline">{seg}</h4>')
            placed = placed or hit
        elif headline:
            parts.append(f'<h4 class="newsrag-headline">{html.escape(headline)}</h4>')
        seg, hit = _segment(text, body_start, s_end, start, end, not placed)
        parts.append(f'<div class="newsrag-body"{_PRE}>{seg}</div></section>')
        placed = placed or hit
        pos = max(pos, s_end)
    if pos < len(text):
        seg, hit = _segment(text, pos, len(text), start, end, not placed)
        parts.append(f'<div class="newsrag-body"{_PRE}>{seg}</div>')
    parts.append("</article>")
    return "".join(parts)
