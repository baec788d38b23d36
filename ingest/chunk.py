"""Chunks for section search: one per headline section, long sections split at sentence boundaries.

A chunk's ``embed_text`` carries the article title and the headline, so that a section whose body never
names its subject ("he said ...") is still found by it; its offsets point into the body only.
"""

from __future__ import annotations

from ..rag.models import Article, Chunk, Section, Sentence

__all__ = ["make_chunks", "chunk_id", "sentence_embed_text"]


def sentence_embed_text(article: Article, sentence: Sentence) -> str:
    """What is embedded for a sentence: its section headline, then the sentence. The headline tells the
    model what "he said ..." is about; on the shipped and held-out eval sets it lifted answer hit (see
    docs/benchmarks.md). The stored document stays the exact sentence."""
    text = article.text[sentence.start : sentence.end]
    section = article.sections[sentence.section] if sentence.section < len(article.sections) else None
    return f"{section.headline}. {text}" if section and section.headline else text


def chunk_id(article_id: str, section: int, part: int) -> str:
    return f"{article_id}:{section}:{part}"


def _parts(section: Section, sentences: list[Sentence], max_chars: int) -> list[tuple[int, int]]:
    """Sentence-aligned ``[start, end)`` parts of a section, each at most about ``max_chars``."""
    if section.end - section.start <= max_chars or len(sentences) < 2:
        return [(section.start, section.end)]
    parts: list[tuple[int, int]] = []
    start = section.start
    for prev, sent in zip(sentences, sentences[1:], strict=False):
        if sent.end - start > max_chars and prev.end > start:
            parts.append((start, sent.start))
            start = sent.start
    parts.append((start, section.end))
    return parts


def make_chunks(article: Article, max_chars: int = 1500) -> list[Chunk]:
    by_section: dict[int, list[Sentence]] = {}
    for sent in article.sentences:
        by_section.setdefault(sent.section, []).append(sent)
    chunks = []
    for section in article.sections:
        heading = section.headline or ""
        for part, (start, end) in enumerate(_parts(section, by_section.get(section.index, []), max_chars)):
            body_from = max(start, section.body_start)
            text = article.text[body_from:end].strip()
            if not text and not heading:
                continue
            chunks.append(
                Chunk(
                    id=chunk_id(article.id, section.index, part),
                    article_id=article.id,
                    section=section.index,
                    part=part,
                    start=start,
                    end=end,
                    text=text,
                    embed_text="\n".join(x for x in (article.title, heading, text) if x),
                )
            )
    return chunks
