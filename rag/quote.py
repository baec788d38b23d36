"""Quote selection: score the sentences of the retrieved sections, pick relevant and diverse ones, and
merge adjacent picks into one quote. Only the question is embedded; sentence vectors come from the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import LexicalIndex
from .models import Article
from .retrieve import Fused
from .store import SentenceRecord
from .text import content_words, tokens

__all__ = [
    "Candidate",
    "Quote",
    "QuoteParams",
    "PARAMS",
    "coverage",
    "eligible",
    "quote_cut",
    "score_sentences",
    "select",
    "merge",
]


@dataclass(frozen=True)
class QuoteParams:
    """Every number quote selection uses, in one place. A sentence's score is
    ``sentence * cos(question, sentence) + section * cos(question, its section) + lexical * overlap``
    where overlap is the idf-weighted share of the question's content words the sentence (with its
    headline) contains; then selection keeps sentences within ``margin`` of the best one."""

    sentence: float = 0.6  #: weight of the sentence's own similarity to the question
    section: float = 0.25  #: weight of its section's similarity (context: "he said" sentences)
    lexical: float = 0.25  #: weight of the word overlap
    margin: float = 0.12  #: candidates scoring more than this below the best are not quoted
    duplicate: float = 0.92  #: a sentence this similar to one already chosen from its article is a repeat
    per_article: int = 4  #: quotes per article at most
    mmr_lambda: float = 0.1  #: how much similarity to chosen sentences of the same article costs
    neighbour_margin: float = 0.2  #: a chosen sentence's neighbour within this much joins its quote


PARAMS = QuoteParams()
#: the best quotes whose next sentence joins them when it opens with a quotation mark
LEAD_INS = 2
_OPENING_QUOTES = ('"', "“", "‘", "«", "„")


@dataclass
class Candidate:
    record: SentenceRecord
    dense: float
    section: float
    lexical: float
    score: float


@dataclass
class Quote:
    article_id: str
    start: int
    end: int
    score: float
    section: int
    sentences: list[int]


def coverage(terms: set[str], words: set[str], index: LexicalIndex) -> float:
    """idf-weighted share of ``terms`` that ``words`` contains; 1.0 when there are no terms. Words the
    corpus never uses count fully against it, which is what makes off-corpus entities lower the score."""
    total = sum(index.idf(t) for t in terms)
    return sum(index.idf(t) for t in terms if t in words) / total if total else 1.0


def lexical_overlap(query_terms: list[str], text_terms: set[str], index: LexicalIndex) -> float:
    """Share of the question's (idf-weighted) content words that the text contains; 0.0 for a question
    with none."""
    return coverage(set(query_terms), text_terms, index) if query_terms else 0.0


def score_sentences(
    qvec: np.ndarray,
    query: str,
    sentences: list[SentenceRecord],
    sections: list[Fused],
    index: LexicalIndex,
    headlines: dict[str, str] | None = None,
    params: QuoteParams = PARAMS,
) -> list[Candidate]:
    if not sentences:
        return []
    section_score = {f.chunk_id: f.dense for f in sections}
    mat = np.vstack([s.vector for s in sentences])
    dense = mat @ qvec.astype(np.float32)
    q_terms = tokens(query)
    headline_words = {cid: content_words(h) for cid, h in (headlines or {}).items()}
    out = []
    for rec, d in zip(sentences, dense, strict=True):
        sec = section_score.get(rec.chunk_id, 0.0)
        if sec == 0.0:
            sec = float(d)  # lexical-only section: no chunk similarity known, use the sentence's own
        terms = content_words(rec.text) | headline_words.get(rec.chunk_id, set())
        lex = lexical_overlap(q_terms, terms, index)
        score = params.sentence * float(d) + params.section * sec + params.lexical * lex
        out.append(Candidate(rec, float(d), sec, lex, score))
    return rank(out)


def rank(cands: list[Candidate]) -> list[Candidate]:
    """Sort candidates in place, best first (ties: article, then position), and return them."""
    cands.sort(key=lambda c: (-c.score, c.record.article_id, c.record.start))
    return cands


def select(
    cands: list[Candidate], max_quotes: int, floor: float, params: QuoteParams = PARAMS, max_chars: int = 0
) -> list[Candidate]:
    """Greedy MMR: high score, but not a near-repeat of a sentence already chosen from the same article.
    The same statement in two articles is kept: citing each source is the point. With ``max_chars``, a
    sentence that would take the quoted characters past it is skipped (the best one is always kept)."""
    pool = eligible(cands, floor, params)
    chosen: list[Candidate] = []
    per_article: dict[str, int] = {}
    room = _Room(max_chars)
    while pool and len(chosen) < max_quotes:

        def mmr(c: Candidate) -> float:
            same = [s for s in chosen if s.record.article_id == c.record.article_id]
            sim = max((float(c.record.vector @ s.record.vector) for s in same), default=0.0)
            return c.score - params.mmr_lambda * sim

        pick = max(pool, key=lambda c: (mmr(c), -c.record.start))
        pool.remove(pick)
        same = [s for s in chosen if s.record.article_id == pick.record.article_id]
        if any(float(pick.record.vector @ s.record.vector) > params.duplicate for s in same):
            continue
        if per_article.get(pick.record.article_id, 0) >= params.per_article:
            continue
        if not room.take(pick, always=not chosen):
            continue
        chosen.append(pick)
        per_article[pick.record.article_id] = per_article.get(pick.record.article_id, 0) + 1
    return chosen + neighbours(chosen, cands, floor, params, room)


def quote_cut(cands: list[Candidate], floor: float, params: QuoteParams = PARAMS) -> float:
    """The lowest score :func:`select` may quote among ``cands`` (best first): ``floor``, or the margin
    below the best when that is higher."""
    return max(floor, cands[0].score - params.margin) if cands else floor


def eligible(cands: list[Candidate], floor: float, params: QuoteParams = PARAMS) -> list[Candidate]:
    """The candidates (best first) that :func:`select` may quote: at or above :func:`quote_cut`."""
    cut = quote_cut(cands, floor, params)
    return [c for c in cands if c.score >= cut]


@dataclass
class _Room:
    """Quoted characters left in an answer (``limit`` 0: no limit)."""

    limit: int
    used: int = 0

    def take(self, c: Candidate, always: bool = False) -> bool:
        """Count ``c``'s characters if they fit (or ``always``); whether they were counted."""
        size = c.record.end - c.record.start
        if self.limit and self.used + size > self.limit and not always:
            return False
        self.used += size
        return True


def neighbours(
    chosen: list[Candidate], cands: list[Candidate], floor: float, params: QuoteParams = PARAMS, room: _Room | None = None
) -> list[Candidate]:
    """Sentences right before or after a chosen one, in the same section, nearly as relevant: they extend
    that quote (merged by :func:`merge`) instead of becoming citations of their own. After one of the
    two best quotes, a sentence that opens with a quotation mark joins whatever its score: it holds the
    words that quote's lead-in announces ("Asked about the cost, the minister was blunt." "...")."""
    at = {(c.record.article_id, c.record.index): c for c in cands}
    taken = {(c.record.article_id, c.record.index) for c in chosen}
    extra: list[Candidate] = []
    for place, c in enumerate(chosen):
        for step in (-1, 1):
            key = (c.record.article_id, c.record.index + step)
            n = at.get(key)
            if (
                n is not None
                and key not in taken
                and n.record.section == c.record.section
                and (
                    n.score >= max(floor, c.score - params.neighbour_margin)
                    or (step == 1 and place < LEAD_INS and n.record.text.lstrip().startswith(_OPENING_QUOTES))
                )
                and (room is None or room.take(n))
            ):
                taken.add(key)
                extra.append(n)
    return extra


def merge(chosen: list[Candidate], articles: dict[str, Article]) -> list[Quote]:
    """Adjacent sentences of one article become one quote spanning both (the text between included)."""
    quotes: list[Quote] = []
    for c in sorted(chosen, key=lambda c: (c.record.article_id, c.record.index)):
        r = c.record
        if r.article_id not in articles:
            continue
        last = quotes[-1] if quotes else None
        if last and last.article_id == r.article_id and last.sentences[-1] + 1 == r.index and last.section == r.section:
            last.end = r.end
            last.sentences.append(r.index)
            last.score = max(last.score, c.score)
        else:
            quotes.append(Quote(r.article_id, r.start, r.end, c.score, r.section, [r.index]))
    return quotes
