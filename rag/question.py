"""What a question pins down, read without an LLM: the names it uses (people, places, events, outlets),
the dates or months it names, and the kind of answer it expects (a person, a time, a place, an amount,
a reason). Quote scoring uses these as features and abstention asks whether the evidence covers them.

Every pattern here is linear in the question's length (questions are bounded by the chain's limits).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .answertype import MONEY
from .text import STOPWORDS, tokens

__all__ = [
    "QuestionInfo",
    "analyze",
    "answer_kind_met",
    "dates_in",
    "name_parts",
    "name_phrases",
    "role_references",
    "RoleReference",
    "ANSWER_KINDS",
    "DAY_MENTION",
    "MONTH_NAMES",
    "WEEKDAY_NAMES",
]

ANSWER_KINDS = ("person", "time", "place", "amount", "number", "percent", "reason")

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
#: Month names and their abbreviations, lower case.
MONTH_NAMES = frozenset(_MONTHS)
#: Weekday names, lower case.
WEEKDAY_NAMES = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?\b", re.I)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
#: a day as :func:`dates_in` reads one, as a pattern to put after other words
DAY_MENTION = rf"(?:{_DAY_MONTH.pattern}|{_MONTH_DAY.pattern}|{_ISO.pattern})"
_MONTH_ONLY = re.compile(rf"\b(?:in|during|since|by|early|late|mid-?)\s+{_MONTH}\b", re.I)
_NAME = re.compile(r"[A-Z][\w’'-]*(?:\s+(?:of|the|de|for|and)\s+[A-Z][\w’'-]*|\s+[A-Z][\w’'-]*)*")
_QUESTION_OPENERS = frozenset(
    """what who whom whose how why when where which did does do is was were are will would could can has have had
    and but so tell give list according in at on after before during since""".split()
)
_KIND_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("percent", re.compile(r"\b(what|which)\s+(share|percentage|proportion|percent)\b|\bhow\s+many\s+percent\b", re.I)),
    (
        "amount",
        re.compile(
            r"\bhow\s+much\b|\b(what|which)\s+(price|fee|fine|salary|wage|sum|amount|cost|budget|figure|rate)\b"
            r"|\bhow\s+(expensive|costly)\b",
            re.I,
        ),
    ),
    ("number", re.compile(r"\bhow\s+(many|long|far|big|large|high|old)\b|\bwhat\s+(number|size|length)\b", re.I)),
    ("person", re.compile(r"^\s*(and\s+)?(who|whom|whose)\b|\bwhich\s+(official|minister|person|man|woman)\b", re.I)),
    ("time", re.compile(r"^\s*(and\s+)?when\b|\bwhat\s+(date|day|time|year|month)\b|\bby\s+when\b|\bhow\s+soon\b", re.I)),
    ("place", re.compile(r"^\s*(and\s+)?where\b|\bin\s+which\s+(city|town|place|country)\b|\bwhat\s+venue\b", re.I)),
    ("reason", re.compile(r"^\s*(and\s+)?why\b|\bwhat\s+(reason|caused)\b|\bfor\s+what\s+reason\b", re.I)),
]
_MONTH_TERMS = frozenset(_MONTHS) | {"march", "may"}
#: Question words the lexical side counts as content but that say nothing about the topic.
_VAGUE = frozenset({"much", "many", "accord", "according", "exactly", "actually", "specifically", "kind", "sort"})
_HAS_PERCENT = re.compile(r"\d\s?%|\bper\s?cent\b|\bpercent", re.I)
_HAS_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozen|dozens|hundreds|thousands|half|quarter|third)\b",
    re.I,
)
_HAS_TIME = re.compile(
    rf"\b(\d{{4}}|{_MONTH}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|yesterday|"
    r"week|weeks|month|months|year|years|days?|spring|summer|autumn|winter|morning|evening|night)\b",
    re.I,
)
_HAS_REASON = re.compile(r"\b(because|since|due to|after|as a result|so that|in order to|blamed|caused|reason|why)\b", re.I)
_HAS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?\s+[A-Z][a-z]+")
_HAS_ROLE = re.compile(
    r"\b(minister|governor|chairman|chairwoman|chair|ceo|chief|president|mayor|spokes(?:man|woman|person)|"
    r"director|secretary|leader|professor|dr|general|councillor|official|analyst|head)\b",
    re.I,
)


@dataclass
class QuestionInfo:
    """What the question pins down. ``names`` are its capitalised phrases (people, places, events,
    outlets), ``name_terms`` their content words; ``dates`` the days it names, ``months`` its months."""

    text: str
    terms: list[str]
    names: list[str] = field(default_factory=list)
    name_terms: set[str] = field(default_factory=set)
    dates: list[dt.date] = field(default_factory=list)
    months: set[int] = field(default_factory=set)
    kind: str | None = None

    @property
    def topic_terms(self) -> set[str]:
        """Content words that are not part of a name or a date: what the question asks about."""
        dated = {str(d.day) for d in self.dates} | {str(d.year) for d in self.dates}
        return set(self.terms) - self.name_terms - _MONTH_TERMS - dated - _VAGUE


def dates_in(text: str, year: int = 2026, near: dt.date | None = None) -> list[dt.date]:
    """Days named in the text ("March 12", "12 March 2026", "2026-03-12"). A day without its year is read
    in the year that puts it nearest to ``near`` (a news question's "March 12" is the one of the story
    its articles report: 12 March 2025 beside an article of 20 January 2025, 30 December 2024 beside one
    of 5 January 2025); without ``near``, in ``year``."""
    out: list[dt.date] = []
    for m in _ISO.finditer(text):
        try:
            out.append(dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            continue
    for pattern, day_group, month_group, year_group in ((_DAY_MONTH, 1, 2, 3), (_MONTH_DAY, 2, 1, 3)):
        for m in pattern.finditer(text):
            month = _MONTHS.get(m.group(month_group).lower().rstrip("."))
            if month is None:
                continue
            named = m.group(year_group)
            years = [int(named or year)] if named or near is None else [near.year - 1, near.year, near.year + 1]
            days = [d for d in (_day(y, month, int(m.group(day_group))) for y in years) if d]
            if days:
                out.append(min(days, key=lambda d: abs((d - near).days)) if near and len(days) > 1 else days[0])
    return out


def _day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:  # 30 February, or 29 February in a common year
        return None


def _names(question: str) -> list[str]:
    names = []
    for m in _NAME.finditer(question):
        phrase = m.group(0)
        words = phrase.split()
        while words and words[0].lower().strip("’'") in _QUESTION_OPENERS | STOPWORDS:
            words = words[1:]
        if not words:
            continue
        phrase = " ".join(words)
        if phrase.lower() in _MONTHS or phrase.lower() in {"i", "i'm"}:
            continue
        names.append(phrase)
    return names


#: Words in front of a name that give a role, not the name ("Mayor", "Prime Minister", "Dr").
_TITLE_WORDS = frozenset(
    """mayor prime minister finance defence defense foreign interior justice health governor commodore general admiral
    colonel captain major dr doctor professor prof president chairman chairwoman chair chief executive ceo councillor
    union leader opposition spokeswoman spokesman spokesperson mr mrs ms miss sir deputy secretary director inspector
    judge senator mp former new acting""".split()
)
#: words that say when someone holds a role, not which role: "Kessmoor's next manager" is a manager of Kessmoor's
_WHEN_IN_ROLE = frozenset("new next former current then incoming outgoing acting interim future previous late".split())
_POSSESSIVE_SPLIT = re.compile(r"['’]s\b|(?<=s)['’]$")


def name_parts(name: str) -> list[str]:
    """A name split at its possessives: "Arvendal Post's April" -> ["Arvendal Post", "April"]."""
    return [part.strip() for part in _POSSESSIVE_SPLIT.split(name) if part.strip()]


#: the head words of a role someone holds, as a question names a person by it ("Ostrelia's defence minister");
#: not "head", which stands for any of them ("the head of the students' union" is its president)
_ROLE_HEADS = (
    r"minister|president|chief|mayor|governor|spokes(?:man|woman|person)|leader|director|chair(?:man|woman)?|owner|"
    r"manager|coach|captain|ceo|general|commander|secretary|ambassador|envoy|premier|negotiator|lawyer|founder|editor|"
    r"ombudsman|prosecutor|judge|inspector|chancellor|dean|rector|commissioner"
)
_OWNER = r"[A-Z][\w-]*(?:(?<=s)['’] [A-Z][\w-]*| [A-Z][\w-]*)*"  # "Lindqvar Students' Union"
#: "Ostrelia's defence minister", "Aster Bay's fire chief"; "the owner of the Dune Point campsite"
_ROLE_OF_OWNER = (
    re.compile(rf"\b(?P<owner>{_OWNER})['’]s (?P<role>(?:[a-z-]+ ){{0,2}}?(?:{_ROLE_HEADS}))\b"),
    re.compile(rf"\bthe (?P<role>(?:[a-z-]+ )?(?:{_ROLE_HEADS})) of (?:the )?(?P<owner>{_OWNER})"),
)


#: heads that are ordinary words too ("Port Calder's chief concern", "Kessmoor's general strategy"): a role
#: only with a word before them ("fire chief", "army general", "head coach")
_BARE_AMBIGUOUS = frozenset("chief general coach captain leader secretary director".split())
#: spellings that name the same role
_ROLE_SPELLINGS = (("defense", "defence"),)
#: words in front of a name that are not part of it
_NOT_OWNER = _TITLE_WORDS | STOPWORDS | _QUESTION_OPENERS | MONTH_NAMES | WEEKDAY_NAMES


def _normal(text: str) -> str:
    """Lower case, one kind of apostrophe, single spaces, one spelling per role word."""
    low = re.sub(r"\s+", " ", text.lower().replace("’", "'").replace("ʼ", "'").replace("‘", "'"))
    for other, one in _ROLE_SPELLINGS:
        low = low.replace(other, one)
    return low


def _owner_key(word: str) -> str:
    """A pattern for one owner word as an article may print it: a long word by its stem ("ostrel" for
    "Ostrelia", "Ostrelian", "Ostrelia's"), a short one whole ("UN" is not "under")."""
    if len(word) >= 5:
        return re.escape(word[: len(word) - 2]) + r"[\w-]*(?:'s)?"
    return re.escape(word) + r"(?:'s)?\b"


@dataclass(frozen=True)
class RoleReference:
    """A person the question names by a role and whose role it is ("Ostrelia's defence minister"). An
    article mentions that person when it prints the owner next to the role: "Ostrelian Defence Minister
    ...", "Ostrelia's defence minister", "the defence minister of Ostrelia", "spokeswoman for Northern
    Command", "Rostveldt's spokesman" for "Hanna Rostveldt's spokesman"."""

    phrase: str  #: as a reader would recognise it ("Ostrelia's defence minister")
    owner: str  #: as the question prints it, without the words in front that are not a name
    modifiers: tuple[str, ...]  #: the role's other words ("defence")
    head: str  #: "minister"

    @property
    def search(self) -> str:
        """Words to look the person up by in the lexical index."""
        return " ".join([self.owner, *self.modifiers, self.head])

    def mentioned_in(self, text: str) -> bool:
        low = _normal(text)
        words = _normal(self.owner).split()
        keys = [r"\b" + r" ".join(_owner_key(w) for w in words)]
        if len(words) > 1 and len(words[-1]) >= 5:  # a person's surname, a place's last word
            keys.append(r"\b" + _owner_key(words[-1]))
        owner = "(?:" + "|".join(keys) + ")"
        head = rf"{re.escape(self.head)}(?:s|es)?\b"
        # the role's other words may stand on either side of its head ("minister of defence")
        before = re.compile(rf"{owner},? (?:[\w-]+,? ){{0,3}}?{head}(?: [\w-]+){{0,3}}")
        after = re.compile(
            rf"(?<![\w-])(?:[\w-]+ ){{0,3}}{head},? (?:[\w-]+ ){{0,3}}?(?:of|for|at|in) (?:the )?(?:[\w-]+ )?{owner}"
        )
        mods = [_normal(m) for m in self.modifiers]
        return any(
            all(re.search(rf"\b{re.escape(m)}", hit.group(0)) for m in mods)
            for pattern in (before, after)
            for hit in pattern.finditer(low)
        )


def role_references(question: str) -> list[RoleReference]:
    """The people ``question`` names by a role of a named owner (see :class:`RoleReference`)."""
    out = []
    for pattern in _ROLE_OF_OWNER:
        for m in pattern.finditer(question):
            words = m.group("owner").split()
            while words and words[0].lower().strip("'’") in _NOT_OWNER:
                words = words[1:]
            role = [w for w in m.group("role").split() if w not in STOPWORDS | _WHEN_IN_ROLE]
            if not words or not role or (len(role) == 1 and role[0] in _BARE_AMBIGUOUS):
                continue
            owner = " ".join(words)
            said = " ".join(role)
            phrase = f"{owner}'s {said}" if pattern is _ROLE_OF_OWNER[0] else f"the {said} of {owner}"
            if "’" in m.group(0):
                phrase = phrase.replace("'s", "’s")
            out.append(RoleReference(phrase, owner, tuple(role[:-1]), role[-1]))
    return out


def name_phrases(info: QuestionInfo) -> list[str]:
    """The question's names of two words or more as an article would print them: titles in front
    dropped ("Prime Minister Hanna Rostveldt" -> "Hanna Rostveldt"), possessives split ("National
    Renewal's Per Hakansson" -> "National Renewal", "Per Hakansson"), months dropped."""
    out = []
    for name in info.names:
        for part in name_parts(name):
            words = part.split()
            while words and (words[0].lower() in _TITLE_WORDS | STOPWORDS or words[0].lower().rstrip(".") in MONTH_NAMES):
                words = words[1:]
            if len(words) >= 2:
                out.append(" ".join(words))
    return out


def analyze(question: str, year: int = 2026) -> QuestionInfo:
    names = _names(question)
    name_terms = {t for n in names for t in tokens(n)}
    months = {_MONTHS[m.group(1).lower().rstrip(".")] for m in _MONTH_ONLY.finditer(question)}
    dates = dates_in(question, year)
    months |= {d.month for d in dates}
    kind = next((k for k, p in _KIND_PATTERNS if p.search(question)), None)
    return QuestionInfo(question, tokens(question), names, name_terms, dates, months, kind)


def answer_kind_met(text: str, kind: str | None) -> bool:
    """Whether ``text`` holds the kind of thing the question asks for (a person, a time, an amount ...)."""
    if kind is None:
        return True
    if kind == "percent":
        return bool(_HAS_PERCENT.search(text))
    if kind == "amount":
        return bool(MONEY.search(text) or _HAS_PERCENT.search(text))
    if kind == "number":
        return bool(_HAS_NUMBER.search(text))
    if kind == "time":
        return bool(_HAS_TIME.search(text))
    if kind == "person":
        return bool(_HAS_NAME.search(text) or _HAS_ROLE.search(text))
    if kind == "place":
        return bool(_HAS_NAME.search(text) or re.search(r"\b(in|at|near|outside)\s+[A-Z]", text))
    if kind == "reason":
        return bool(_HAS_REASON.search(text))
    return True
