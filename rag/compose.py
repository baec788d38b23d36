"""Turn selected quotes into an :class:`Answer`: the extractive text, citations, and abstentions."""

from __future__ import annotations

from collections.abc import Iterator

from rag.models import Article, Citation, Retrieved
from rag.quote import Quote

__all__ = ["citations_for", "extractive_lines", "abstention_text", "NO_ANSWER"]

NO_ANSWER = "The stored articles do not answer this question."


def citations_for(quotes: list[Quote], articles: dict[str, Article]) -> list[Citation]:
    """Numbered citations, grouped by article (best article first), in text order within an article."""
    best: dict[str, float] = {}
    for q in quotes:
        best[q.article_id] = max(best.get(q.article_id, 0.0), q.score)
    order = sorted(best, key=lambda a: (-best[a], a))
    out: list[Citation] = []
    for aid in order:
        article = articles[aid]
        for q in sorted((q for q in quotes if q.article_id == aid), key=lambda q: q.start):
            section = article.sections[q.section] if q.section < len(article.sections) else None
            out.append(Citation(
                n=len(out) + 1, quote=article.text[q.start : q.end], article_id=aid, title=article.title,
                url=article.url, date=article.date, source=article.source,
                section=section.headline if section else None, start=q.start, end=q.end, score=round(q.score, 4),
            ))
    return out


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
        names = "; ".join(
            f"“{r.section}” in {r.title}" if r.section else r.title for r in related[:3]
        )
        text += f" Related sections, not an answer: {names}."
    return text
