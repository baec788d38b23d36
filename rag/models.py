"""Typed records that cross package boundaries: the CLI prints them as JSON and the UI renders them.

Character offsets are the truth: ``article.text[s.start:s.end]`` is the exact text of a span, and a
citation's ``quote`` is always such a slice.

Every JSON output (``newsrag ask --json``, the HTTP API, eval reports) is ``model.model_dump(mode="json")``
(or ``model_dump_json``), so dates are ISO strings and one schema serves all of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Section",
    "Sentence",
    "Article",
    "ArticleSummary",
    "Chunk",
    "Citation",
    "Retrieved",
    "Answer",
    "AnswerChunk",
    "HistoryTurn",
    "QueryFilters",
    "NewsragInput",
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
    for_quotes: bool = Field(
        default=False,
        description="Retrieved after the k best, for quotes only: whether to answer was decided without it.",
    )


class Answer(BaseModel):
    """What the chain returns: the answer text with markers ``[n]`` and the citations they point to."""

    question: str = Field(description="The question as asked (white space trimmed).")
    answer: str = Field(description="The answer text; every marker [n] is the citation numbered n.")
    abstained: bool = Field(description="True when the stored articles do not answer; then there are no citations.")
    citations: list[Citation] = Field(default_factory=list, description="The quotes, numbered from 1, best first.")
    retrieved: list[Retrieved] = Field(default_factory=list, description="The sections retrieval returned, best first.")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="Milliseconds spent in each step.")
    rewritten_question: str | None = Field(default=None, description="The standalone question searched for a follow-up.")
    backend: str = Field(default="extractive", description="'extractive', or 'llm' when a model's validated sentences answer.")


class AnswerChunk(Answer):
    """A piece of a streamed :class:`Answer`; ``chain.stream()`` yields these, and they add up with ``+``.

    Every chunk but the last holds a text delta in ``answer``; the last one (``final=True``) carries the
    citations, ``abstained``, ``retrieved`` and the rest (and any text not streamed before). The sum of a
    whole stream is the :class:`Answer` that ``invoke`` returns, with ``final=True``; as an ``Answer``
    subclass it works wherever an ``Answer`` does (a ``RunnableLambda`` after the chain gets the sum)."""

    question: str = ""
    answer: str = ""
    abstained: bool = False
    final: bool = Field(default=False, description="True on the last chunk of a stream (and on any sum that includes it).")

    def __add__(self, other: Any) -> AnswerChunk:
        if not isinstance(other, AnswerChunk):
            return NotImplemented
        last = other if other.final or not self.final else self
        return last.model_copy(update={"answer": self.answer + other.answer, "final": self.final or other.final})

    def to_answer(self) -> Answer:
        """This chunk as a plain :class:`Answer` (for the sum of a whole stream: the chain's answer)."""
        return Answer.model_validate(self.model_dump(exclude={"final"}))


# -- the chain's input ----------------------------------------------------------------------------------
class HistoryTurn(BaseModel):
    """One earlier turn of the conversation, as chat APIs write it."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(
        description="'human' or 'user' for the user's questions (these restate a follow-up); "
        "'ai', 'assistant' and 'system' turns are accepted and ignored.",
        examples=["user"],
    )
    content: str = Field(description="The text of the turn.", examples=["What did Hegseth say about borders?"])


class QueryFilters(BaseModel):
    """Which stored articles may answer. Dates are checked by the chain (a bad one is a QueryError)."""

    model_config = ConfigDict(extra="forbid")

    since: str | None = Field(
        default=None,
        description="Only articles dated on or after this day (YYYY-MM-DD).",
        json_schema_extra={"format": "date"},
        examples=["2025-01-01"],
    )
    until: str | None = Field(
        default=None,
        description="Only articles dated on or before this day (YYYY-MM-DD).",
        json_schema_extra={"format": "date"},
        examples=["2025-12-31"],
    )
    sources: list[str] | None = Field(
        default=None, description="Only articles from these sites (domains such as 'sputnikglobe.com')."
    )
    article_ids: list[str] | None = Field(default=None, description="Only these stored articles (ids from `newsrag articles`).")


class NewsragInput(BaseModel):
    """A question for newsrag. The chain also takes a plain string (the question) or a dict of these
    fields; in Python, ``history`` may also hold LangChain messages (``HumanMessage``, ``AIMessage``)."""

    model_config = ConfigDict(extra="forbid", title="NewsragInput")

    question: str = Field(
        min_length=1,
        description="The question about the stored news articles (at most NEWSRAG_MAX_QUESTION_CHARS characters).",
        examples=["What did Hegseth say about borders?"],
    )
    history: list[str | tuple[str, str] | HistoryTurn] = Field(
        default_factory=list,
        description="Earlier turns of the conversation, oldest first: strings (earlier user questions), "
        "[role, text] pairs or {role, content} objects. Only the user's turns are used, to restate a "
        "follow-up such as 'Did he mention troops?'.",
        examples=[["What did Hegseth say about borders?"]],
    )
    filters: QueryFilters | None = Field(default=None, description="Restrict the articles that may answer.")
    k: int | None = Field(
        default=None, ge=1, le=50, description="How many article sections to retrieve (default: NEWSRAG_TOP_K)."
    )
