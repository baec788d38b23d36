"""Features of a candidate quote and of a question's evidence, for the learned scorer (rag/scorer.py).

A candidate is a sentence of a retrieved section. Its features say how close it is to the question
(dense similarity of the sentence and of its section, word overlap), whether its context covers what the
question pins down (the names, the date or month, the outlet), and whether it holds the kind of answer
asked for (a person, a time, an amount ...). The question's features summarise its best candidates and
what of the question no candidate covers; they decide whether to abstain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .lexical import LexicalIndex
from .models import Article
from .question import QuestionInfo, answer_kind_met, dates_in
from .quote import Candidate, coverage
from .retrieve import Fused
from .text import content_words

__all__ = ["CANDIDATE_FEATURES", "QUESTION_FEATURES", "candidate_features", "question_features", "Context"]

CANDIDATE_FEATURES = (
    "dense",  # cosine of question and sentence (embedded with its headline)
    "section",  # cosine of question and the sentence's section
    "lexical",  # idf-weighted share of the question's words in the sentence and its headline
    "topic",  # idf-weighted share of the question's topic words (not names, not dates) in the sentence
    "topic_near",  # the same over the sentence and its two neighbours
    "names_section",  # share of the question's name words in the sentence's section (with title and headline)
    "names_article",  # share of the question's name words anywhere in the article
    "kind",  # the sentence holds the kind of answer asked for (+1), not (-1), no kind asked (0)
    "date",  # the article's date or the section's dates match the question's (+1), do not (-1), none asked (0)
    "outlet",  # the question names this article's outlet (+1), another outlet (-1), none (0)
    "rank",  # 1 / rank of the sentence's section in retrieval
    "lead",  # the sentence is among the first three of its article
    "quoted",  # the sentence holds quotation marks
    "best_dense",  # the sentence's dense similarity minus the best candidate's
    "before_event",  # the article appeared before a date the question names: it cannot report that event
    "topic_count",  # how many of the question's topic words the sentence and its neighbours hold (at most 5)
    "rare_hit",  # the highest idf among the topic words the sentence holds, over the highest idf of all of them
)
QUESTION_FEATURES = (
    "p1",  # probability of the best candidate (from the candidate model)
    "p2",  # of the second best
    "dense1",  # the best candidate's dense similarity
    "topic_cov",  # idf-weighted share of the topic words found in any top candidate (with neighbours)
    "names_cov",  # share of name words found in any retrieved article
    "unknown",  # share of the question's words the corpus never uses
    "kind_met",  # some top candidate holds the kind of answer asked for (+1/-1/0)
    "joint",  # best over candidates of topic_near * names_section: topic and names in one place
    "rare_missing",  # the highest idf among topic words no top candidate (with neighbours) holds, normalised
)

_QUOTE_MARK = re.compile('["“”]')


@dataclass
class Context:
    """Per-question lookups shared by every candidate: the question, articles, sections, index."""

    info: QuestionInfo
    articles: dict[str, Article]
    sections: list[Fused]
    index: LexicalIndex
    outlets: set[str]  # normalised outlet names the question mentions ("northernwire")
    _words: set[str] | None = None

    def all_words(self) -> set[str]:
        """Content words of every retrieved article (computed once per question)."""
        if self._words is None:
            self._words = set().union(*(content_words(f"{a.title} {a.text}") for a in self.articles.values()))
        return self._words


def outlets_named(info: QuestionInfo, sources: set[str]) -> set[str]:
    """Outlet domains (of ``sources``) that a name in the question spells: "Northern Wire" -> northernwire.example."""
    out = set()
    for name in info.names:
        key = re.sub(r"[^a-z0-9]", "", name.lower())
        for variant in (key, key.removeprefix("the")):
            for source in sources:
                head = re.sub(r"[^a-z0-9]", "", source.split(".")[0])
                if len(variant) >= 5 and (head == variant or head == "the" + variant):
                    out.add(source)
    return out


def _date_signal(info: QuestionInfo, article: Article, section_text: str) -> float:
    if not info.dates and not info.months:
        return 0.0
    if info.dates:
        mentioned = set(dates_in(section_text, article.date.year if article.date else 2026))
        if mentioned & set(info.dates):
            return 1.0
        if article.date and any(0 <= (article.date - d).days <= 3 for d in info.dates):
            return 1.0
        return -1.0
    return 1.0 if article.date and article.date.month in info.months else -1.0


def candidate_features(ctx: Context, cands: Sequence[Candidate]) -> np.ndarray:
    """One row of :data:`CANDIDATE_FEATURES` per candidate."""
    info, index = ctx.info, ctx.index
    names, topic = info.name_terms, info.topic_terms
    rank = {f.chunk_id: r for r, f in enumerate(ctx.sections, start=1)}
    best_dense = max((c.dense for c in cands), default=0.0)
    top_idf = max((index.idf(t) for t in topic), default=0.0)
    words: dict[tuple[str, int], set[str]] = {}

    def sentence_words(aid: str, i: int) -> set[str]:
        key = (aid, i)
        if key not in words:
            a = ctx.articles.get(aid)
            words[key] = (
                content_words(a.text[a.sentences[i].start : a.sentences[i].end]) if a and 0 <= i < len(a.sentences) else set()
            )
        return words[key]

    section_words: dict[tuple[str, int], tuple[set[str], str]] = {}
    article_words: dict[str, set[str]] = {}
    rows = []
    for c in cands:
        r = c.record
        a = ctx.articles[r.article_id]
        if (r.article_id, r.section) not in section_words:
            sec = a.sections[r.section] if r.section < len(a.sections) else None
            text = a.text[sec.start : sec.end] if sec else ""
            section_words[(r.article_id, r.section)] = (content_words(f"{a.title} {text}"), text)
        if r.article_id not in article_words:
            article_words[r.article_id] = content_words(f"{a.title} {a.text}")
        sec_words, sec_text = section_words[(r.article_id, r.section)]
        own = sentence_words(r.article_id, r.index)
        near = own | sentence_words(r.article_id, r.index - 1) | sentence_words(r.article_id, r.index + 1)
        kind = 0.0 if info.kind is None else (1.0 if answer_kind_met(r.text, info.kind) else -1.0)
        held = [index.idf(t) for t in topic if t in near]
        outlet = 0.0 if not ctx.outlets else (1.0 if (a.source or "") in ctx.outlets else -1.0)
        rows.append(
            [
                c.dense,
                c.section,
                c.lexical,
                coverage(topic, own, index),
                coverage(topic, near, index),
                coverage(names, sec_words, index),
                coverage(names, article_words[r.article_id], index),
                kind,
                _date_signal(info, a, sec_text),
                outlet,
                1.0 / rank.get(r.chunk_id, len(ctx.sections) + 1),
                1.0 if r.index < 3 else 0.0,
                1.0 if _QUOTE_MARK.search(r.text) else 0.0,
                c.dense - best_dense,
                1.0 if info.dates and a.date and a.date < min(info.dates) else 0.0,
                min(len(held), 5),
                max(held, default=0.0) / top_idf if top_idf else 0.0,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(CANDIDATE_FEATURES))


def question_features(ctx: Context, cands: Sequence[Candidate], feats: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The row of :data:`QUESTION_FEATURES` for the question, from its candidates ranked by ``probs``."""
    info, index = ctx.info, ctx.index
    order = np.argsort(-probs) if len(probs) else np.array([], dtype=int)
    top = order[:5]
    p1 = float(probs[order[0]]) if len(order) else 0.0
    p2 = float(probs[order[1]]) if len(order) > 1 else 0.0
    dense1 = float(feats[order[0], CANDIDATE_FEATURES.index("dense")]) if len(order) else 0.0
    topic_col = CANDIDATE_FEATURES.index("topic_near")
    names_col = CANDIDATE_FEATURES.index("names_section")
    topic_cov = float(feats[top, topic_col].max()) if len(top) else 0.0
    names_cov = coverage(info.name_terms, ctx.all_words(), index)
    terms = set(info.terms)
    unknown = sum(1 for t in terms if not index.known(t)) / len(terms) if terms else 0.0
    if info.kind is None:
        kind_met = 0.0
    else:
        kind_met = 1.0 if any(answer_kind_met(cands[i].record.text, info.kind) for i in order[:3]) else -1.0
    joint = float((feats[:, topic_col] * feats[:, names_col]).max()) if len(feats) else 0.0
    near: set[str] = set()
    for i in top:
        r = cands[i].record
        a = ctx.articles.get(r.article_id)
        if a is not None:
            lo, hi = max(r.index - 1, 0), min(r.index + 2, len(a.sentences))
            if hi > lo:
                near |= content_words(a.text[a.sentences[lo].start : a.sentences[hi - 1].end])
    idfs = {t: index.idf(t) for t in info.topic_terms}
    top_idf = max(idfs.values(), default=0.0)
    rare_missing = max((v for t, v in idfs.items() if t not in near), default=0.0) / top_idf if top_idf else 0.0
    return np.asarray([p1, p2, dense1, topic_cov, names_cov, unknown, kind_met, joint, rare_missing], dtype=np.float64)
