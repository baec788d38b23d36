"""Whether the passages newsrag would quote support what the question takes for granted.

Near-topic questions that no article answers share their topic with the news, so relevance alone does
not tell them apart ("What did Varga-Lund say at the Tessaly summit?" when she spoke in Hollin; "Why did
the finance minister call the deal 'a gift to Ostrelia'?" when the opposition leader said it). The
checks, each a reason a reader can verify in the articles:

* **a day nobody reports**: the question names a day, and no quotable passage comes from an article
  published on it or just after, or naming it;
* **quoted words said by someone else**: the question quotes words (or "said that ...", "call for ...",
  "accuse ... of ...", "demand ...") and names a
  person, the retrieved articles print the words, and never with that person in the sentence or the one
  before;
* **a name apart**: the question names people, places or events, and one of them is in no quotable
  passage's neighbourhood (its article's title and lead, and two sentences before to one after: the
  speaker, the event);
* **a speaker no article names**: the question asks what a person said ("What did Zelensky say about
  NATO?"), and no stored article prints that person's surname;
* **words nobody reports**: the question asks what a named person said ("What did Hallgren tell the
  Chamber of Commerce ...?"), and no quotable passage reports the person speaking, or one of the
  question's other names (the audience, the place, the event) is in the section of none of those that do.
  The same story's articles name them all; what the answer needs is the person's words at that event;
* **withheld**: the question asks for a name, a number or a day, and one of the best quotable passages
  says that very thing was not given ("Which firm was that?" beside "... declined to name the firm");
* **yet to come**: the question takes an outcome for granted ("What did the independent review
  conclude?"), and the passages' sections speak of that review only as something to come ("she would ask
  for an independent review").

Calibrated on the dev splits only (news/dev*, news3/dev; docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from .features import quoted_in, spells_outlet
from .lexical import LexicalIndex
from .models import Article
from .pins import REPORT_DAYS
from .question import MONTH_NAMES, WEEKDAY_NAMES, analyze, name_parts
from .quote import PARAMS, Candidate, coverage
from .text import content_words, tokens

__all__ = ["quotable", "unsupported", "unreported"]

#: share of a name's (idf-weighted) words a passage must hold to count as naming it
NAME_COVER = 0.5
#: sentences before and after a quotable one where its speaker or event is named
BEFORE, AFTER = 2, 1
#: sentences that open an article, its lead, read with every passage of it for the names it sets the scene with
LEAD = 2
#: share of quoted words a sentence must hold to be where they are printed (quoted / "said that" words)
QUOTED_SHARE, CLAUSE_SHARE = 0.8, 0.6
_SAID_THAT = re.compile(
    r"\b(?:say|said|tell|told|argue|argued|claim|claimed|mean|warn|warned)\b[^?]*?\bthat\s+([^?]{12,300})"
    r"|\b(?:call|calls|called)\s+for\s+([^?]{12,300})|\b(?:accuse|accuses|accused)\s+[^?]{2,40}?\bof\s+([^?]{12,300})"
    r"|\b(?:demand|demands|demanded|propose|proposes|proposed)\s+([^?]{12,300})",
    re.I,
)
#: "What did <name> say / tell / promise ...": the question asks for a named person's words. Only verbs
#: of saying: "call", "add", "write", "offer", "give", "defend" or "dismiss" may ask about deeds ("How did
#: Kessmoor defend the title?"), and this check would read those as words nobody reports.
_ASKS_WORDS = re.compile(
    r"\b(?:did|does|do|has|have|had|will|would)\s+(?P<who>[^?]{2,60}?)\s+(?:say|tell|warn|promise|announce|argue|"
    r"claim|admit|concede|describe|respond|reply|insist|pledge|vow|predict|urge|explain|state|declare|acknowledge|"
    r"suggest|accuse|blame|ask)\b",
    re.I,
)
#: a verb of saying in a sentence that names its speaker ("Strand told ...", "... said Hallgren")
_SPEECH = re.compile(
    r"\b(?:said|says|told|tells|warned|warns|added|argued|insisted|promised|announced|stated|claimed|wrote|replied|"
    r"responded|conceded|admitted|acknowledged|explained|declared|urged|pledged|vowed|dismissed|accused|asked|called|"
    r"described|according to)\b",
    re.I,
)
#: a sentence whose speaker was named before it: "he said", "she told", or one that opens with a quotation
_SAID_BY_PRONOUN = re.compile(
    r"\b(?:he|she|they)\s+(?:said|told|added|argued|warned|insisted|promised|conceded|admitted|replied|wrote|"
    r"explained|declared)\b|\b(?:said|told|added)\s+(?:he|she)\b|^\s*[\"“‘']",
    re.I,
)
#: a refusal to give a name, a number or a day ("declined to name", "has not yet named", "would not say how
#: many", "had not decided how many")
_WITHHELD = re.compile(
    r"\b(?:declined|refused|would\s+not|did\s+not|(?:has|have|had)\s+not(?:\s+yet)?|not\s+yet)\s+"
    r"(?:to\s+)?(?:name[ds]?|identify|identified|disclose[ds]?|(?:say|said|decided|confirm(?:ed)?|reveal(?:ed)?)\s+"
    r"(?:which|who|whom|how\s+many|how\s+much|when|what))\b",
    re.I,
)
#: words after a refusal that may hold what was refused
WITHHELD_WORDS = 6
#: the best quotable passages a refusal must be among: as many as an answer quotes (Settings.max_quotes)
WITHHELD_AMONG = 4
#: what a question asks for: "which firm", "what is the name of the regulator", "how many days"
_SLOT_WORD = re.compile(
    r"(?:^\W*|,\s*)(?:and\s+)?(?:which|what)\s+(?:(?:is|was|are|were)\s+the\s+names?\s+of\s+)?(?P<rest>[^?]*)"
    r"|\bhow\s+(?:many|much)\s+(?P<counted>[\w'-]+)",
    re.I,
)
#: the words that end the noun after "which" or "what": a verb that follows it, or a clause
_NOUN_END = frozenset(
    "that who whom which whose of in at for on to from by did does do has have had will would is are was were "
    "can could should".split()
)
#: words of the noun after "which" or "what" (determiners aside) that name the thing asked for
SLOT_NOUN_WORDS = 3
_DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "its", "their", "his", "her"})
_ASKS_WHO_WHEN = re.compile(r"^\W*(?:and\s+)?(?:who|whom|when|on\s+what\s+date)\b", re.I)
_YES_NO = re.compile(r"^\W*(?:and\s+)?(?:is|was|are|were|did|does|do|has|have|had|can|could|will|would)\b", re.I)
#: processes whose outcome a question may take for granted
_PROCESS = re.compile(
    r"(review|report|inquiry|investigation|consultation|ballot|vote|ruling|appeal|verdict|trial|hearing|audit|study|"
    r"assessment|inspection|findings|recommendations|decision|probe|analysis)s?"
)
#: words of an outcome, and how near a process they must be in the question
_OUTCOME = re.compile(
    r"conclude[ds]?|find|found|findings?|recommend(?:ed|ations?)?|decide[ds]?|ruled?|ruling|results?|outcome|verdict|"
    r"show(?:ed|n|s)?|reveal(?:ed|s)?|win|won|lose|lost"
)
OUTCOME_WORDS = 6
_POINTING = frozenset({"that", "this", "these", "those"})
#: words that tell one report or review from another of the same story ("its final report", not the interim one)
_KIND_OF_PROCESS = frozenset(
    {"final", "interim", "full", "preliminary", "independent", "internal", "external", "official", "formal", "second", "first"}
)
_FUTURE_QUESTION = re.compile(r"\b(?:will|would|going\s+to|due|expected|plan(?:s|ned)?|should|next)\b", re.I)
#: a word of the future near a mention, and an outcome that means it happened; characters either side
_FUTURE = re.compile(
    r"\b(?:due|expected|will|would|to\s+be|is\s+to|are\s+to|planned|scheduled|later|next|by\s+the\s+(?:summer|end|"
    r"spring|autumn|winter)|yet\s+to|not\s+yet|asked\s+for|called\s+for|pending|can\s+then|intends?|plans?|"
    r"(?:closes|ends|opens|begins|starts|runs\s+until)\s+(?:on|in|at|by)\b)\b",
    re.I,
)
#: an outcome that means it happened ("would be published" is still to come)
_DONE = re.compile(
    r"(?<!\bbe\s)\b(?:found|concluded|ruled|recommended|showed|rejected|upheld|dismissed|won|lost|published)\b", re.I
)
FUTURE_CHARS = 60
#: words before a verb of saying and after it where its speaker is named ("Emil Varga-Lund, the defence
#: minister, said"; "said Defence Minister Emil Varga-Lund")
BEFORE_VERB, AFTER_VERB = 10, 5
_PERSON = re.compile(r"he|she", re.I)
_ASKS_WHO = re.compile(r"^\W*(?:and\s+)?(?:who|whom|whose|which)\b", re.I)
#: a preposition right before a name: a place or a thing ("in Marrow Heath", "at the Ledger"), not a person
_PLACE_BEFORE = re.compile(r"\b(?:in|at|on|near|to|from|of|for|into|across|outside|inside|around|by|the)\s+$", re.I)
#: the question's longer words, to skip articles that cannot print its quoted words
_WORD = re.compile(r"\b[^\W\d_]{6,}\b")


Names = list[tuple[str, set[str]]]


def unsupported(turn: str, pool: list[Candidate], articles: dict[str, Article], index: LexicalIndex) -> str | None:
    """Why the quotable passages ``pool`` (:func:`quotable`) do not answer the question ``turn`` (the current
    turn of a follow-up: names only an earlier turn used are not asked about) (None when nothing is amiss).
    The date check is :func:`unreported`, which reads the candidates before any preference for the named
    day."""
    names = _names(turn, index)
    return (
        _unprinted(turn, index)
        or _said_by_another(turn, names, articles, index)
        or _apart(names, pool, articles, index)
        or _unsaid(turn, names, pool, articles, index)
        or _withheld(turn, pool, articles)
        or _yet_to_come(turn, pool, articles)
    )


def unreported(
    days: tuple[dt.date, ...], candidates: list[Candidate], articles: dict[str, Article], threshold: float
) -> str | None:
    """The question names ``days``, and no quotable passage comes from an article that reports the first
    of them: published that day or up to :data:`REPORT_DAYS` after, or later naming it ("March 17", "17
    March") or, within the week after, its weekday ("on Tuesday"). An article from before the day reports
    nothing of it, whatever it announces."""
    quoted = {c.record.article_id for c in quotable(candidates, threshold)}
    sources = [articles[i] for i in quoted if i in articles]
    if not days or not sources or any(_reports(a, days[0]) for a in sources):
        return None
    day = f"{days[0].day} {days[0]:%B %Y}"
    if all(a.date is not None and a.date < days[0] for a in sources):
        return f"the passages on this come from articles published before {day}"
    return f"no article with a passage on this reports {day}: none was published on it or just after, or names it"


def _reports(article: Article, day: dt.date) -> bool:
    if article.date is None:
        return True  # undated: it may be the report
    after = (article.date - day).days
    if after < 0:
        return False  # published before the day: at most a preview of it
    if after <= REPORT_DAYS:
        return True
    month = f"{day:%B}"
    if re.search(rf"\b(?:{month} {day.day}|{day.day} {month})\b", article.text):
        return True
    return 0 < after <= 6 and re.search(rf"\b{day:%A}\b", article.text) is not None


def quotable(candidates: list[Candidate], threshold: float) -> list[Candidate]:
    """The candidates the answer may quote: at or above ``threshold``, within the selection margin of the
    best (hand scores)."""
    if not candidates:
        return []
    best = candidates[0].score
    return [c for c in candidates if c.score >= max(threshold, best - PARAMS.margin)]


def _names(turn: str, index: LexicalIndex) -> Names:
    """The question's names with their words the corpus uses (a word it never uses is the unprinted-name
    check's business), split at possessives; outlets are left out (they are named by their domain, not in
    the text), and so is a one-word name that is only capitalised because it opens the question."""
    words = turn.split()
    opener = words[0].strip("?,.!") if words else ""
    out = []
    for name in (part for whole in analyze(turn).names for part in name_parts(whole)):
        if name == opener or _dating(name) or any(spells_outlet(name, source) for source in index.source_set):
            continue
        terms = {t for t in tokens(name) if index.known(t)}
        if terms:
            out.append((name, terms))
    return out


def _dating(name: str) -> bool:
    """A capitalised phrase that only dates something: "March", "Tuesday", "April 12"."""
    return all(w.lower().strip(".,") in MONTH_NAMES | WEEKDAY_NAMES or w.strip(".,").isdigit() for w in name.split())


def _unprinted(turn: str, index: LexicalIndex) -> str | None:
    """The person whose words the question asks for, when no stored article prints their surname: "What
    did Zelensky say about NATO?" over articles that never name him would otherwise be answered with
    someone else's words. The chain refuses a name of two words or more that no article prints before
    this runs; a one-word name is refused only here, as the speaker asked about, because elsewhere in a
    question it is often a place standing for its people ("Will America send soldiers to Kyiv?")."""
    whole = [(part, set(tokens(part))) for name in analyze(turn).names for part in name_parts(name)]
    who = _speaker(turn, whole)
    if who is None or index.known(tokens(who[0])[-1]):
        return None
    return f"none of them mentions “{who[0]}”"


def _said_by_another(turn: str, names: Names, articles: dict[str, Article], index: LexicalIndex) -> str | None:
    if not names:
        return None
    phrases = [(content_words(q), QUOTED_SHARE) for q in quoted_in(turn)]
    phrases += [(content_words(next(g for g in m.groups() if g)), CLAUSE_SHARE) for m in _SAID_THAT.finditer(turn)]
    phrases = [(words, share) for words, share in phrases if len(words) >= 3 or (words and share == QUOTED_SHARE)]
    if not phrases:
        return None
    terms = set().union(*(t for _, t in names))
    printed = False
    clues = {w.lower() for w in _WORD.findall(turn)}
    for a in articles.values():
        if not any(w in a.text.lower() for w in clues):
            continue  # none of the question's longer words: no sentence of it prints the words
        for s in a.sentences:
            held = content_words(a.text[s.start : s.end])
            if not any(len(words & held) >= share * len(words) for words, share in phrases):
                continue
            printed = True
            start = a.sentences[max(s.index - 1, 0)].start
            if coverage(terms, content_words(a.text[start : s.end]), index) >= NAME_COVER:
                return None
    return f"the articles do not attribute those words to “{names[0][0]}”" if printed else None


def _withheld(turn: str, pool: list[Candidate], articles: dict[str, Article]) -> str | None:
    """The question asks for a name, a number or a day, and a quotable passage says that very thing was
    withheld: "Which firm was that?" beside "... but declined to name the firm", "How many days of strike
    action did the executive call?" beside "... had not decided how many days of action it would call". The
    words after the refusal must hold what the question asks for (the noun after "which" or "how many", or
    for "who" and "when" the question's words). Not for "What did X say ...?" nor for a yes-or-no question:
    "did not say whether ..." answers neither."""
    slot = _slot(turn)
    if not slot:
        return None
    for c in pool[:WITHHELD_AMONG]:
        text = c.record.text
        for m in _WITHHELD.finditer(text):
            if content_words(" ".join(text[m.end() :].split()[:WITHHELD_WORDS])) & slot:
                a = articles.get(c.record.article_id)
                where = f" ({a.title})" if a is not None else ""
                return f"an article says it was not made public: “{text.strip()}”{where}"
    return None


def _yet_to_come(turn: str, pool: list[Candidate], articles: dict[str, Article]) -> str | None:
    """The question takes an outcome for granted ("What did the independent review conclude?", "Did the
    company win its appeal?"), and the quotable passages' sections speak of that review or appeal only as
    something to come: "she would ask for an independent review", "the company can then appeal". Each
    mention must have a word of the future near it ("would", "due", "expected", "later") and no outcome
    ("found", "ruled"). Not when the question itself asks about the future, nor for "that report" (a
    follow-up's earlier turn has it)."""
    if _FUTURE_QUESTION.search(turn):
        return None
    words = [w.strip("?,.!\"“”'’").lower().removesuffix("'s") for w in turn.split()]
    outcomes = [i for i, w in enumerate(words) if _OUTCOME.fullmatch(w)]
    processes = {
        f"{words[i - 1]} {m.group(1)}" if i and words[i - 1] in _KIND_OF_PROCESS else m.group(1)
        for i, w in enumerate(words)
        if (m := _PROCESS.fullmatch(w))
        and (i == 0 or words[i - 1] not in _POINTING)
        and any(abs(o - i) <= OUTCOME_WORDS for o in outcomes)
    }
    if not processes:
        return None
    sections: dict[tuple[str, int], list[str]] = {}
    for c in pool:
        a = articles.get(c.record.article_id)
        if a is not None and (a.id, c.record.section) not in sections:
            sections[(a.id, c.record.section)] = [a.text[s.start : s.end] for s in a.sentences if s.section == c.record.section]
    for process in sorted(processes):
        mention = re.compile(r"\b" + r"\s+".join(process.split()) + r"s?\b", re.I)
        said = [t for texts in sections.values() for t in texts if mention.search(t)]
        if said and all(_to_come(t, mention) for t in said):
            return f"the articles speak of the {process} only as something to come: “{said[0].strip()}”"
    return None


def _to_come(text: str, mention: re.Pattern[str]) -> bool:
    """Whether every mention in ``text`` has a word of the future near it and no outcome."""
    for m in mention.finditer(text):
        near = text[max(m.start() - FUTURE_CHARS, 0) : m.end() + FUTURE_CHARS]
        if not _FUTURE.search(near) or _DONE.search(near):
            return False
    return True


def _slot(turn: str) -> set[str]:
    """The words of what the question asks for: the noun after "which", "what" or "how many" ("which firm",
    "what is the name of the regulator", "how many days"), or for "who" and "when" all its words; empty for
    a question about someone's words, or one answered yes or no."""
    if _ASKS_WORDS.search(turn) or _YES_NO.match(turn):
        return set()
    m = _SLOT_WORD.search(turn)
    if m and m.group("counted"):
        return content_words(m.group("counted"))
    if m:
        words = m.group("rest").split()
        if words and words[0].lower() in _NOUN_END:
            return set()  # "What was the final tally?", "What did they decide?": no noun to look for
        noun: list[str] = []
        taken = 0
        for w in words:
            if w.lower().strip(",.") in _NOUN_END or len(noun) == SLOT_NOUN_WORDS:
                break
            taken += 1
            if w.lower() not in _DETERMINERS:
                noun.append(w)
        asked = content_words(" ".join(noun))
        rest = " ".join(words[taken:])
        also = re.match(r"(?:was|is)\s+the\s+((?:\S+\s*){1,3})", rest, re.I)  # "which company was the contractor"
        return asked | (content_words(also.group(1)) if also else set())
    return content_words(turn) if _ASKS_WHO_WHEN.match(turn) else set()


def _apart(names: Names, pool: list[Candidate], articles: dict[str, Article], index: LexicalIndex) -> str | None:
    """The first name that no quotable passage has in its neighbourhood."""
    name = _missing(names, pool, articles, index, _neighbourhood)
    return f"no passage on this mentions “{name}”" if name else None


def _unsaid(turn: str, names: Names, pool: list[Candidate], articles: dict[str, Article], index: LexicalIndex) -> str | None:
    """The question asks what a named person said, and no quotable passage reports the person speaking (in
    its sentence or one next to it), or one of the question's other names is in the section of none that
    does."""
    who = _speaker(turn, names)
    if who is None:
        return None
    surname = tokens(who[0])[-1]
    speaking = []
    for c in pool:
        a = articles.get(c.record.article_id)
        i = c.record.index
        if a is not None and any(_speaks(a, j, surname) for j in range(max(i - 1, 0), min(i + 2, len(a.sentences)))):
            speaking.append(c)
    if not speaking:
        return f"no passage on this reports what “{who[0]}” said"
    others = [(name, terms) for name, terms in names if name != who[0]]
    name = _missing(others, speaking, articles, index, _section)
    return f"no passage that reports what “{who[0]}” said mentions “{name}”" if name else None


def _missing(
    names: Names, pool: list[Candidate], articles: dict[str, Article], index: LexicalIndex, around: Callable[[Article, int], str]
) -> str | None:
    """The first of ``names`` that is in no pool passage's title or ``around`` text (None: each is in one)."""
    missing = dict(names)
    for c in pool:
        a = articles.get(c.record.article_id)
        if not missing:
            break
        if a is None or not a.sentences:
            continue
        near = _with_demonyms(content_words(f"{a.title}\n{around(a, c.record.index)}"), index)
        missing = {name: terms for name, terms in missing.items() if coverage(terms, near, index) < NAME_COVER}
    return next(iter(missing), None)


def _with_demonyms(words: set[str], index: LexicalIndex) -> set[str]:
    """``words`` with a place's people's name for each place, and the place for each such name, where the
    corpus uses both: "Drevnia" names the same thing as "the Drevnian duty" ("Ostrelia", "Ostrelian")."""
    return (
        words
        | {w + "n" for w in words if index.known(w + "n")}
        | {w[:-1] for w in words if w.endswith("n") and index.known(w[:-1])}
    )


def _neighbourhood(a: Article, i: int) -> str:
    """Sentence ``i`` with two sentences before it and one after (the speaker, the event), and the article's
    lead: a news story names the summit or the hearing it reports in its first sentences, not again in
    each section ("At the Assembly hearing, which member pressed Lindh ...?" is answered in a later one)."""
    lo, hi = a.sentences[max(i - BEFORE, 0)], a.sentences[min(i + AFTER, len(a.sentences) - 1)]
    lead = a.sentences[min(LEAD, len(a.sentences)) - 1]
    return f"{a.text[: lead.end]}\n{a.text[lo.start : hi.end]}"


def _section(a: Article, i: int) -> str:
    """The sentences of sentence ``i``'s headline section."""
    section = [s for s in a.sentences if s.section == a.sentences[i].section]
    return a.text[section[0].start : section[-1].end]


def _speaks(article: Article, i: int, surname: str) -> bool:
    """Whether sentence ``i`` of ``article`` reports words of the person called ``surname``: it names them
    beside a verb of saying, or says "he said" (or opens with a quotation) with them named in one of the
    two sentences before."""
    s = article.sentences[i]
    text = article.text[s.start : s.end]
    words = text.split()
    for m in _SPEECH.finditer(text):
        at = len(text[: m.start()].split())
        if surname in tokens(" ".join(words[max(at - BEFORE_VERB, 0) : at + 1 + AFTER_VERB])):
            return True
    if not _SAID_BY_PRONOUN.search(text):
        return False
    return any(surname in tokens(article.text[p.start : p.end]) for p in article.sentences[max(i - 2, 0) : i])


def _speaker(turn: str, names: Names) -> tuple[str, set[str]] | None:
    """The person whose words the question asks for ("What did <name> say / tell ..."): the name that ends
    the words before the verb, so that "Wenlow Yards' chief executive Ylva Brandt" asks about Brandt, and
    "the Pentagon chief" or "Ostrelia's defence minister" about nobody by name; "he" or "she" asks about the
    person the question named before it."""
    asked = _ASKS_WORDS.search(turn)
    if asked is None:
        return None
    phrase = asked.group("who").rstrip(" ,")
    if _PERSON.fullmatch(phrase):
        # "When Ylva Brandt testified ..., how did she explain ...?": the person named last before the
        # pronoun; not after "who ...?" (the pronoun is its answer), nor a place ("in Marrow Heath")
        if _ASKS_WHO.match(turn):
            return None
        before = [(turn.rfind(name, 0, asked.start("who")), (name, terms)) for name, terms in names]
        at, who = max(((at, n) for at, n in before if at >= 0), key=lambda b: b[0], default=(-1, None))
        return None if who is None or _PLACE_BEFORE.search(turn[:at]) else who
    ending = [(name, terms) for name, terms in names if re.search(rf"\b{re.escape(name)}$", phrase)]
    who = max(ending, key=lambda n: len(n[0]), default=None)
    return who if who is not None and tokens(who[0]) else None
