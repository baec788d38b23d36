"""Plain-text rendering of an Answer's citations for the terminal."""

from __future__ import annotations

from ..rag.models import Answer

__all__ = ["citations_text"]


def citations_text(answer: Answer) -> str:
    lines = []
    for c in answer.citations:
        where = " · ".join(x for x in (c.headline or "Lead", c.date.isoformat() if c.date else None) if x)
        lines.append(f"[{c.n}] “{c.quote}”\n    {c.title} — {where}\n    {c.url or ''} (chars {c.start}-{c.end})")
    return "\n".join(lines)
