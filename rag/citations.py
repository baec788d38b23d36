"""The one place a :class:`Citation` is made: from an article and a ``[start, end)`` span of its text, so
that ``citation.quote == article.text[start:end]`` holds by construction."""

from __future__ import annotations

from .models import Article, Citation
from .quote import Quote

__all__ = ["cite", "citations_for"]


def cite(article: Article, start: int, end: int, n: int, score: float) -> Citation:
    """Citation number ``n`` of ``article.text[start:end]``, with the article's title, section and date."""
    if not 0 <= start < end <= len(article.text):
        raise ValueError(f"span [{start}, {end}) is outside article {article.id} ({len(article.text)} characters)")
    section = article.section_of(start)
    return Citation(
        n=n,
        quote=article.text[start:end],
        article_id=article.id,
        title=article.title,
        url=article.url,
        date=article.date,
        source=article.source,
        section=section.index if section else 0,
        headline=section.headline if section else None,
        start=start,
        end=end,
        score=round(score, 4),
    )


def citations_for(quotes: list[Quote], articles: dict[str, Article]) -> list[Citation]:
    """Numbered citations, grouped by article (best article first), best quote first within an article:
    a reader reads [1] first, so [1] is the quote the chain ranks highest."""
    best: dict[str, float] = {}
    for q in quotes:
        best[q.article_id] = max(best.get(q.article_id, 0.0), q.score)
    order = sorted(best, key=lambda a: (-best[a], a))
    out: list[Citation] = []
    for aid in order:
        for q in sorted((q for q in quotes if q.article_id == aid), key=lambda q: (-q.score, q.start)):
            out.append(cite(articles[aid], q.start, q.end, len(out) + 1, q.score))
    return out
