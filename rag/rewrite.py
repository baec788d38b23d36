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

from .question import MONTH_NAMES, WEEKDAY_NAMES
from .text import STOPWORDS, tokens

__all__ = ["restate", "rewrite", "subject_of", "unmentioned_topic", "WINDOW", "MAX_TURNS"]

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
#: Pronouns a person's name replaces; "they", "them", "its" are as often the things an earlier answer named.
_PERSON_PRONOUN = re.compile(r"\b(he|she|him|his|her)\b", re.I)
_POSSESSIVE = {"his", "her", "their", "its"}
#: A question that asks who (or which one): a pronoun after it, or in it, means its answer, not its subject.
_ASKS_WHICH = re.compile(
    r"^\W*(?:and\s+)?(?:who|whom|whose|which|what(?:['’]s|\s+is|\s+was|\s+were)\s+the\s+names?\s+of)\b", re.I
)
_POSSESSIVE_END = re.compile(r"['’]s$")
#: a name with a digit is a thing ("LX-204", "Line 7"), never the person "he" or "she" stands for
_DIGIT = re.compile(r"\d")
#: a capitalised phrase after a preposition or "the" names a place, an outlet or an event, not a person
_AFTER_PREPOSITION = re.compile(r"\b(?:in|at|on|near|to|from|of|for|into|by|the)\s+$", re.I)
_LED_BY_PREPOSITION = re.compile(r"(?:in|at|on|near|to|from|of|for|into|by|the)\s", re.I)
_NOT_NAMES = {"i", "i'm"} | MONTH_NAMES | WEEKDAY_NAMES
_THING = re.compile(r"\b(it|this|that|these|those)\b", re.I)


def subject_of(question: str, person: bool = False) -> str | None:
    """Who or what a question is about: the subject of 'did X say', else its first proper-noun phrase.
    With ``person``, only someone "he" or "she" can stand for ("How long is Lena Forsgaard's contract?"): a
    name with a digit is a thing ("SCI-417"), and one after a preposition or "the" a place, an outlet or an
    event ("In The Ledger's market report, ...")."""
    question = _head(question)
    m = _SUBJECT.search(question)
    if m and not _PRONOUN.fullmatch(m.group("subj")):
        who: str | None = _POSSESSIVE_END.sub("", m.group("subj").strip())
    else:
        phrases = (
            p.group(0)
            for p in _PROPER.finditer(question)
            if not person or not (_AFTER_PREPOSITION.search(question[: p.start()]) or _LED_BY_PREPOSITION.match(p.group(0)))
        )
        who = next((n for n in map(_name, phrases) if n), None)
    return None if person and who is not None and _DIGIT.search(who) else who


def _name(phrase: str) -> str:
    """A capitalised phrase without the words that are capitalised only by position ("By", "According")
    or that name no one (months), and without a possessive ending."""
    words = phrase.split()
    while words and (_bare(words[0]) in _QUESTION_WORDS | STOPWORDS or _bare(words[0]).rstrip(".") in MONTH_NAMES):
        words = words[1:]
    return _POSSESSIVE_END.sub("", " ".join(words))


def _bare(word: str) -> str:
    """A word in lower case without a contracted "is" or a possessive: "What's" -> "what"."""
    return _POSSESSIVE_END.sub("", word.lower())


def _head(text: str) -> str:
    return text[:WINDOW]


def _tail(text: str) -> str:
    return text[-WINDOW:]


def _names(question: str) -> list[str]:
    """Capitalised words after the first word (the first is capitalised anyway), but for "I" and the names
    of months and weekdays: "What did that speech do to bets on a cut in May?" names nobody."""
    words = _head(question).split()[1:]
    return [w for w in words if w[:1].isupper() and _bare(w.strip("?.!,;:")) not in _NOT_NAMES]


def _resolve(question: str, previous: str | None) -> tuple[str, str]:
    """(the question restated against ``previous``, what the question itself asks): the second leaves
    out the earlier turn or subject appended in parentheses, which only widens the search."""
    if not previous:
        return question, question
    m = _WHAT_ABOUT.match(question) if len(question) <= WINDOW else None
    if m:
        topic = m.group("topic")
        cut = max(len(previous) - WINDOW, 0)
        pm = _ABOUT.search(previous, cut)
        restated = previous[: pm.start("topic")] + topic + "?" if pm else f"{previous.rstrip(' ?.!')}, and {topic}?"
        return restated, restated
    asks_who = _ASKS_WHICH.match(previous)
    subject = None if asks_who else subject_of(previous)
    person = None if asks_who else subject_of(previous, person=True)
    if person and _PERSON_PRONOUN.search(question) and not _ASKS_WHICH.match(question):

        def swap(p: re.Match[str]) -> str:
            return person + "’s" if p.group(1).lower() in _POSSESSIVE else person

        restated = _PERSON_PRONOUN.sub(swap, question, count=1)
        return restated, restated
    words = tokens(question)
    if not _names(question) or (_THING.search(question) and len(words) < 4):
        # "When does it end?", "Did the company get into trouble?", "Where was he born?" after "Who ...?":
        # what "it", "the company" or "he" is lives in the earlier question (or its answer); search with both
        return f"{question.rstrip()} ({previous.rstrip()})", question
    if subject and len(words) < 2 and not set(tokens(subject)) & set(words):
        return f"{question.rstrip()} ({subject})", question
    return question, question


def restate(question: str, history: list[str] | None) -> tuple[str, str]:
    """(the question restated against the earlier user turns (oldest first), what it asks itself): both
    the question when it stands alone. "When was it called?" after "How long is the rail strike?" is
    searched as "When was it called? (How long is the rail strike?)" and asks "When was it called?"."""
    previous: str | None = None
    for turn in (history or [])[-MAX_TURNS:]:
        if turn and turn.strip():
            previous = _resolve(turn.strip(), previous)[0][:MAX_RESTATED]
    return _resolve(question.strip(), previous)


def rewrite(question: str, history: list[str] | None) -> str:
    """The question restated against the earlier user turns (oldest first); unchanged if standalone."""
    return restate(question, history)[0]


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
