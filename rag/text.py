"""Word-level helpers shared by the lexical index, quote scoring and follow-up rewriting."""

from __future__ import annotations

import functools
import re

__all__ = ["tokens", "content_words", "STOPWORDS"]

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can could did didn't do does doesn't doing don't down during each else ever few
    for from further had has have having he her here hers herself him himself his how however i if in into is
    isn't it its itself just let me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own said same say says she should so some such tell than that the their theirs them
    themselves then there these they this those through to too under until up us very was we were what when
    where which while who whom why will with would you your yours yourself anything something thing things
    know want get got one ones us s t""".split()
)
_WORD = re.compile(r"[^\W_]+(?:[’'][^\W_]+)*", re.UNICODE)


def _stem(word: str) -> str:
    """A light, deterministic suffix stripper: enough to match 'borders'/'border', 'troops'/'troop'."""
    for apo in ("’s", "'s"):
        if word.endswith(apo):
            word = word[: -len(apo)]
    word = word.replace("’", "'")
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=1 << 16)
def _term(word: str) -> str:
    """A lower-cased word as :func:`tokens` keeps it: stemmed, or "" for a stop word. Cached: the words
    of news are few and repeat, and tokenizing every candidate sentence is most of a query's scoring."""
    if word in STOPWORDS:
        return ""
    word = _stem(word)
    return "" if word in STOPWORDS else word


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words of ``text`` (stop words removed)."""
    return [t for t in map(_term, _WORD.findall(text.lower())) if t]


def content_words(text: str) -> set[str]:
    return set(tokens(text))
