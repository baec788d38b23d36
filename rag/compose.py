"""The words of an extractive answer: a framing line and the quotes grouped by article, or an abstention."""

from __future__ import annotations

from collections.abc import Iterator

from .models import Citation, Retrieved

__all__ = ["extractive_lines", "abstention_text", "NO_ANSWER"]

NO_ANSWER = "The stored articles do not answer this question."


def _article_label(c: Citation) -> str:
    bits = [b for b in (c.source, c.date.isoformat() if c.date else None) if b]
    return f"{c.title} ({', '.join(bits)})" if bits else c.title


def extractive_lines(citations: list[Citation]) -> Iterator[str]:
    """The extractive answer, a line at a time: a framing sentence, then quotes grouped by article."""
    n_articles = len({c.article_id for c in citations})
    if n_articles == 1:
        yield "One article addresses this; in its own words:\n"
    else:
        yield f"{n_articles} articles address this; in their own words:\n"
    current = None
    for c in citations:
        if c.article_id != current:
            current = c.article_id
            yield f"\n{_article_label(c)}:\n"
        yield f"- “{c.quote}” [{c.n}]\n"


def abstention_text(related: list[Retrieved], reason: str | None = None) -> str:
    text = NO_ANSWER if not reason else f"{NO_ANSWER[:-1]}: {reason}."
    if related:
        names = "; ".join(f"“{r.headline}” in {r.title}" if r.headline else r.title for r in related[:3])
        text += f" Related sections, not an answer: {names}."
    return text
