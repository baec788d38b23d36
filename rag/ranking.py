"""Rank a question's candidate quotes with the learned scorer, and say why evidence does not answer.

:func:`rank_candidates` replaces each candidate's hand-weighted score with the probability that it
answers the question; :func:`abstain_reason` reads the question model's verdict and names what the
articles lack (a name no article mentions, the kind of answer asked for, the topic at that event).
"""

from __future__ import annotations

import numpy as np

from .evidence import Evidence
from .features import CANDIDATE_FEATURES, Context, candidate_features, outlets_named, question_features, spells_outlet
from .question import analyze
from .quote import coverage
from .scorer import Scorer
from .text import tokens

__all__ = ["rank_candidates", "answerable_probability", "abstain_reason", "explain"]

_KIND_WORDS = {
    "person": "who it was",
    "time": "when",
    "place": "where",
    "amount": "an amount",
    "number": "a number",
    "percent": "a percentage",
    "reason": "why",
}


def rank_candidates(ev: Evidence, scorer: Scorer) -> None:
    """Score ``ev.candidates`` with the quote model (best first) and keep the features on ``ev``."""
    feats = _read(ev)
    if not ev.candidates:
        return
    probs = scorer.quote(feats)
    for c, p in zip(ev.candidates, probs, strict=True):
        c.score = float(p)
    order = sorted(range(len(ev.candidates)), key=lambda i: (-ev.candidates[i].score, ev.candidates[i].record.start))
    ev.candidates = [ev.candidates[i] for i in order]
    ev.features = feats[order]


def explain(ev: Evidence) -> str | None:
    """:func:`abstain_reason` for evidence that no learned scorer ranked: the question is read and the
    candidates' features computed (their scores and order stay as they are)."""
    if ev.context is None:
        _read(ev)
    return abstain_reason(ev)


def _read(ev: Evidence) -> np.ndarray:
    """Read the question (``ev.context``) and compute its candidates' features (``ev.features``, in
    candidate order), and return them."""
    info = analyze(ev.query)
    ev.context = Context(info, ev.articles, ev.sections, ev.index, outlets_named(info, set(ev.index.source_set)))
    ev.features = candidate_features(ev.context, ev.candidates) if ev.candidates else np.zeros((0, len(CANDIDATE_FEATURES)))
    return ev.features


def answerable_probability(ev: Evidence, scorer: Scorer) -> float:
    if ev.context is None or ev.features is None or not ev.candidates:
        return 0.0
    probs = np.array([c.score for c in ev.candidates])
    return float(scorer.answerable(question_features(ev.context, ev.candidates, ev.features, probs)[None, :])[0])


def abstain_reason(ev: Evidence) -> str | None:
    """What the stored articles lack, in words a reader can check: a name none of them mentions, the
    kind of answer asked for, or the question's topic where its names are."""
    ctx = ev.context
    if ctx is None:
        return None
    info = ctx.info
    words = ctx.all_words()
    for name in info.names:
        if any(spells_outlet(name, source) for source in ctx.index.source_set):
            continue  # an outlet is named by its domain, not in the text
        terms = set(tokens(name))
        if terms and coverage(terms, words, ctx.index) < 0.5:
            return f"none of them mentions “{name}”"
    if info.kind and ev.features is not None and len(ev.features):
        col = CANDIDATE_FEATURES.index("kind")
        if not (ev.features[:3, col] > 0).any():
            return f"the passages closest to the question do not say {_KIND_WORDS.get(info.kind, info.kind)}"
    topic = sorted(info.topic_terms, key=lambda t: -ctx.index.idf(t))
    if topic and ev.features is not None and len(ev.features):
        col = CANDIDATE_FEATURES.index("topic_near")
        if ev.features[:5, col].max() < 0.5 and info.names:
            return f"the passages about {' and '.join(info.names[:2])} do not speak of “{' '.join(topic[:3])}”"
    return None
