"""Follow-up questions restated without an LLM: "Did he say anything about troops?" after "What did
Hegseth say about borders?" is searched as "Did Hegseth say anything about troops?".

Linear time in the size of the input, whatever it holds: the patterns below only ever see a bounded
window of a turn (a question's subject is near its start, its topic near its end), only the last
:data:`MAX_TURNS` turns are read, and a restated turn is cut to :data:`MAX_RESTATED` characters before
the next turn builds on it. Without that, "about"/"did ... say" patterns backtrack quadratically (8k
characters took 1 s, 60k took 55 s).
"""

from __future__ import annotations

import re

from .text import tokens

__all__ = ["rewrite", "subject_of", "unmentioned_topic", "WINDOW", "MAX_TURNS"]

#: Characters of a turn the patterns look at: its first WINDOW for the subject, its last WINDOW for the topic.
WINDOW = 300
#: Earlier turns that can matter to a follow-up; older ones are not read.
MAX_TURNS = 6
#: A restated turn is cut to this many characters before the next turn is resolved against it.
MAX_RESTATED = 2 * WINDOW

_WHAT_ABOUT = re.compile(r"^\s*(?:and|but|so|ok|okay)?[\s,]*(?:what|how)\s+about\s+(?P<topic>.+?)\s*[?.!]*\s*$", re.I)
_ABOUT = re.compile(r"\b(?:about|on|regarding|concerning)\s+(?P<topic>[^?]+?)\s*[?.!]*\s*$", re.I)
_SUBJECT = re.compile(
    r"\b(?:did|does|do|has|have|had|is|was|were|will|would|could|can)\s+(?P<subj>.+?)\s+"
    r"(?:say|said|tell|told|announce|announced|claim|think|decide|propose|plan|want|report|mean|warn|promise|"
    r"argue|describe|respond|vote|agree|offer|demand|ask|do)\b",
    re.I,
)
_PROPER = re.compile(r"\b(?:[A-Z][\w’'-]*)(?:\s+(?:of|the|de|van|von|for)?\s*[A-Z][\w’'-]*)*")
_QUESTION_WORDS = {
    "what",
    "who",
    "how",
    "why",
    "when",
    "where",
    "which",
    "did",
    "does",
    "do",
    "is",
    "was",
    "are",
    "were",
    "and",
    "but",
    "has",
    "have",
    "will",
    "can",
    "could",
    "tell",
    "give",
    "list",
    "so",
}
_PRONOUN = re.compile(r"\b(he|she|they|him|them|his|her|their|its)\b", re.I)
_POSSESSIVE = {"his", "her", "their", "its"}
_THING = re.compile(r"\b(it|this|that|these|those)\b", re.I)


def subject_of(question: str) -> str | None:
    """Who or what a question is about: the subject of 'did X say', else its last proper-noun phrase."""
    question = _head(question)
    m = _SUBJECT.search(question)
    if m and not _PRONOUN.fullmatch(m.group("subj")):
        return m.group("subj").strip()
    names = [p.strip() for p in _PROPER.findall(question) if p.strip().lower() not in _QUESTION_WORDS]
    names = [n for n in names if n.split()[0].lower() not in _QUESTION_WORDS] or names
    return names[0] if names else None


def _head(text: str) -> str:
    return text[:WINDOW]


def _tail(text: str) -> str:
    return text[-WINDOW:]


def _names(question: str) -> list[str]:
    """Capitalised words after the first word (the first is capitalised anyway)."""
    words = _head(question).split()[1:]
    return [w for w in words if w[:1].isupper() and w.strip("?.!,") not in {"I", "I'm"}]


def _resolve(question: str, previous: str | None) -> str:
    if not previous:
        return question
    m = _WHAT_ABOUT.match(question) if len(question) <= WINDOW else None
    if m:
        topic = m.group("topic")
        cut = max(len(previous) - WINDOW, 0)
        pm = _ABOUT.search(previous, cut)
        if pm:
            return previous[: pm.start("topic")] + topic + "?"
        return f"{previous.rstrip(' ?.!')}, and {topic}?"
    subject = subject_of(previous)
    if subject and _PRONOUN.search(question):

        def swap(p: re.Match[str]) -> str:
            return subject + "’s" if p.group(1).lower() in _POSSESSIVE else subject

        return _PRONOUN.sub(swap, question, count=1)
    words = tokens(question)
    if (_THING.search(question) and len(words) < 4) or (subject and not _names(question)):
        # "When does it end?", "Did the company get into trouble?": what "it" or "the company" is lives
        # in the earlier question; search with both
        return f"{question.rstrip()} ({previous.rstrip()})"
    if subject and len(words) < 2 and not set(tokens(subject)) & set(words):
        return f"{question.rstrip()} ({subject})"
    return question


def rewrite(question: str, history: list[str] | None) -> str:
    """The question restated against the earlier user turns (oldest first); unchanged if standalone."""
    previous: str | None = None
    for turn in (history or [])[-MAX_TURNS:]:
        if turn and turn.strip():
            previous = _resolve(turn.strip(), previous)[:MAX_RESTATED]
    return _resolve(question.strip(), previous)


def unmentioned_topic(question: str, index: object) -> str | None:
    """The topic of "... about X?" when no stored article uses any of X's words, else None.

    "What did the mayor say about the airport?" cannot be answered by articles that never mention an
    airport, however close the rest of the question is to them.
    """
    m = _ABOUT.search(_tail(question))
    if not m:
        return None
    topic = m.group("topic").strip()
    words = tokens(topic)
    known = getattr(index, "known", None)
    if not words or known is None or any(known(w) for w in words):
        return None
    return topic
