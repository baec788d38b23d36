"""Typed records that cross package boundaries: the CLI prints them as JSON and the UI renders them.

Character offsets are the truth: ``article.text[s.start:s.end]`` is the exact text of a span, and a
citation's ``quote`` is always such a slice.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

__all__ = [
    "Section",
    "Sentence",
    "Article",
    "ArticleSummary",
    "Chunk",
    "Citation",
    "Retrieved",
    "Answer",
]


class Section(BaseModel):
    """A headline section: ``[start, end)`` of the body; the headline (if any) is ``[start, body_start)``."""

    index: int
    headline: str | None = None
    start: int
    body_start: int
    end: int


class Sentence(BaseModel):
    index: int
    section: int
    start: int
    end: int


class ArticleSummary(BaseModel):
    id: str
    title: str
    url: str | None = None
    source: str | None = None
    date: dt.date | None = None
    path: str | None = Field(default=None, description="The file the article was read from.")
    line: int | None = Field(default=None, description="Its line in that file, for a JSON Lines record.")
    n_sections: int = 0
    n_sentences: int = 0


class Article(ArticleSummary):
    """A parsed article: the body text exactly as in the file, and spans into it."""

    text: str
    sections: list[Section] = Field(default_factory=list)
    sentences: list[Sentence] = Field(default_factory=list)
    content_hash: str = ""

    def span(self, start: int, end: int) -> str:
        return self.text[start:end]

    def section_of(self, offset: int) -> Section | None:
        for section in self.sections:
            if section.start <= offset < section.end:
                return section
        return None

    def summary(self) -> ArticleSummary:
        return ArticleSummary.model_validate(self.model_dump(include=set(ArticleSummary.model_fields)))


class Chunk(BaseModel):
    """What is embedded for section search: a section, or a sentence-aligned part of a long one."""

    id: str
    article_id: str
    section: int
    part: int
    start: int
    end: int
    text: str
    embed_text: str


class Citation(BaseModel):
    """Quote number ``n`` of an answer: ``quote == article.text[start:end]`` of the stored article."""

    n: int
    quote: str
    article_id: str
    title: str
    url: str | None = None
    date: dt.date | None = None
    source: str | None = None
    section: int = Field(default=0, description="Index of the article section the quote is in (0 = first).")
    headline: str | None = Field(default=None, description="That section's headline; None for a lead.")
    start: int
    end: int
    score: float = Field(description="Relevance of the quote to the question, as ranked by the chain.")


class Retrieved(BaseModel):
    """A section that retrieval returned for the question, best first."""

    article_id: str
    section: int = Field(default=0, description="Index of the section in its article.")
    headline: str | None = None
    title: str = ""
    similarity: float = Field(default=0.0, description="Cosine similarity of question and section (0 if only BM25 found it).")
    fused: float = Field(default=0.0, description="Reciprocal-rank fusion score of the dense and BM25 rankings.")


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    retrieved: list[Retrieved] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    rewritten_question: str | None = None
    backend: str = "extractive"
