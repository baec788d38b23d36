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
from .text import content_words, tokens

__all__ = [
    "CANDIDATE_FEATURES",
    "QUESTION_FEATURES",
    "candidate_features",
    "question_features",
    "Context",
    "quoted_in",
    "spells_outlet",
]

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
    "prev_dense",  # the previous sentence's dense similarity (its own when not a candidate): "X said:" before a quote
    "next_dense",  # the next sentence's
    "recent",  # where the article's date lies between the oldest and newest retrieved article's (0 to 1)
    "recent_asked",  # "recent" when the question asks for the current or revised state ("now", "latest"), else 0
    "bm25",  # BM25 of the sentence for the question's words, over the best candidate's
    # where the candidate stands among this question's candidates: 1 / (1 + its rank) by a column, and
    # how far below the best it is; a question's candidates compete with each other, not with other questions'
    "dense_rank",
    "section_rank",
    "section_gap",
    "lexical_rank",
    "lexical_gap",
    "bm25_rank",
    "topic_rank",
    "topic_gap",
)
#: Columns the rank features are computed from, and whether a gap to the best is kept beside the rank.
_RANKED = (("dense", False), ("section", True), ("lexical", True), ("bm25", False), ("topic_near", True))
_N_RANKED = sum(2 if gap else 1 for _, gap in _RANKED)
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
    "names_near",  # best over the top candidates of the share of name words within two sentences (or the title)
    "date_top",  # best date signal of the top three candidates (+1 matches, -1 does not, 0 none asked)
    "quoted",  # the question quotes words ('...' or "...")
    "quote_speaker",  # where the quoted words are found, the share of the question's names within two sentences
)

_QUOTE_MARK = re.compile('["“”]')
#: A question about the state after revisions: the newest report answers it.
_LATEST = re.compile(
    r"\b(now|latest|current(ly)?|final(ly)?|so far|revised|updated|later|eventually|in the end|ultimately|still)\b", re.I
)
_BM25_K1, _BM25_B, _BM25_AVG = 1.2, 0.75, 20.0


#: Words the question quotes: "..." or “...”, or '...' (not an apostrophe: no letter outside the marks).
_QUOTED = re.compile(r"[\"“]([^\"“”]{8,300})[\"”]|(?<!\w)'([^']{8,300})'(?!\w)")
_POSSESSIVE_END = re.compile(r"['’]s?$")


def quoted_in(text: str) -> list[str]:
    """Words a question quotes (8 to 300 characters between double or single quotation marks)."""
    return [a or b for a, b in _QUOTED.findall(text)]


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
    return {source for name in info.names for source in sources if spells_outlet(name, source)}


def spells_outlet(name: str, source: str) -> bool:
    """Whether ``name`` spells the outlet domain ``source``: "The Ledger" -> theledger.example."""
    bare = _POSSESSIVE_END.sub("", name.strip())
    key = re.sub(r"[^a-z0-9]", "", bare.lower())
    head = re.sub(r"[^a-z0-9]", "", source.split(".")[0])
    if _ACRONYM.fullmatch(bare) and head in {key + suffix for suffix in _OUTLET_SUFFIXES}:
        return True  # "KBC" -> kbcnews.example, "BBC" -> bbc.example
    return any(len(v) >= 5 and head in (v, "the" + v) for v in (key, key.removeprefix("the")))


#: an outlet's initials ("KBC", "NRK"): too short to compare like a name, but spelt in capitals
_ACRONYM = re.compile(r"[A-Z]{2,6}")
#: what a broadcaster's or paper's domain adds to its initials ("kbcnews", "nrktv")
_OUTLET_SUFFIXES = ("", "news", "online", "tv", "radio", "live", "media")


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
    dense_at = {(c.record.article_id, c.record.index): c.dense for c in cands}
    days = {aid: a.date.toordinal() for aid, a in ctx.articles.items() if a.date}
    first, last = min(days.values(), default=0), max(days.values(), default=0)
    latest = bool(_LATEST.search(info.text))
    bm25 = _bm25(info.terms, [c.record.text for c in cands], index)
    rows: list[list[float]] = []
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
        recent = (days[r.article_id] - first) / (last - first) if r.article_id in days and last > first else 0.5
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
                dense_at.get((r.article_id, r.index - 1), c.dense),
                dense_at.get((r.article_id, r.index + 1), c.dense),
                recent,
                recent if latest else 0.0,
                bm25[len(rows)],
            ]
        )
    base = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(CANDIDATE_FEATURES) - _N_RANKED)
    return np.hstack([base, _standing(base)])


def _standing(base: np.ndarray) -> np.ndarray:
    """The rank features (see :data:`CANDIDATE_FEATURES`) of one question's candidates."""
    if not len(base):
        return np.zeros((0, _N_RANKED))
    cols = []
    for name, gap in _RANKED:
        v = base[:, CANDIDATE_FEATURES.index(name)]
        rank = np.empty(len(v))
        rank[np.argsort(-v, kind="stable")] = np.arange(len(v))
        cols.append(1.0 / (1.0 + rank))
        if gap:
            cols.append(v - v.max())
    return np.column_stack(cols)


def _bm25(terms: list[str], texts: list[str], index: LexicalIndex) -> np.ndarray:
    """BM25 of each text for the question's ``terms`` (idf from the corpus), over the best text's."""
    counts = [tokens(t) for t in texts]
    wanted = set(terms)
    scores = np.zeros(len(texts))
    for i, words in enumerate(counts):
        norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * len(words) / _BM25_AVG)
        for t in wanted:
            tf = words.count(t)
            if tf:
                scores[i] += index.idf(t) * tf * (_BM25_K1 + 1) / (tf + norm)
    top = scores.max(initial=0.0)
    return scores / top if top > 0 else scores


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
    names_near = max(
        (coverage(info.name_terms, _window(ctx, cands[i].record.article_id, cands[i].record.index), index) for i in top),
        default=0.0,
    )
    date_col = CANDIDATE_FEATURES.index("date")
    date_top = float(feats[order[:3], date_col].max()) if len(order) else 0.0
    quoted = quoted_in(info.text)
    speaker = _quote_speaker(ctx, quoted) if quoted and info.name_terms else 1.0
    return np.asarray(
        [
            p1,
            p2,
            dense1,
            topic_cov,
            names_cov,
            unknown,
            kind_met,
            joint,
            rare_missing,
            names_near,
            date_top,
            float(bool(quoted)),
            speaker,
        ],
        dtype=np.float64,
    )


def _window(ctx: Context, article_id: str, i: int, reach: int = 2) -> set[str]:
    """Content words of sentences ``i - reach`` to ``i + reach`` of an article, with its title."""
    a = ctx.articles.get(article_id)
    if a is None or not a.sentences:
        return set()
    lo, hi = max(i - reach, 0), min(i + reach, len(a.sentences) - 1)
    return content_words(f"{a.title} {a.text[a.sentences[lo].start : a.sentences[hi].end]}")


def _quote_speaker(ctx: Context, quoted: list[str]) -> float:
    """For the words a question quotes: find the retrieved sentence that holds most of them, and return
    the share of the question's name words within two sentences of it (the speaker is named there).
    "Why did X say 'a late frigate is better than no frigate'?" when the article gives the line to Y
    scores low. 1.0 when no sentence holds most of the quoted words."""
    phrases = [w for w in (content_words(p) for p in quoted) if w]
    best, where = 0.0, None
    for aid, a in ctx.articles.items():
        for s in a.sentences:
            held = content_words(a.text[s.start : s.end])
            for words in phrases:
                share = len(words & held) / len(words)
                if share > best:
                    best, where = share, (aid, s.index)
    if where is None or best < 0.6:
        return 1.0
    return coverage(ctx.info.name_terms, _window(ctx, *where), ctx.index)
