"""Deterministic synthetic news articles in the crawler format, for benchmarks.

Each article is line 1 `` date YYYY-MM-DD URL``, then the title, then a body of 400-600 words with 3-6
Title-Case section headlines glued between two sentences, the way crawlers flatten news pages
(``...said.Wrenfield Council Delays Reservoir RepairsThe council voted...``).

Article ``i`` depends only on ``(seed, i)``, so ``generate(1000)`` is a prefix of ``generate(10000)`` and
questions drawn with :func:`questions` have answers in every corpus that contains their article.
Vocabulary: 16 topics with their own nouns, roles and organisations, ~500 invented places and ~500
invented surnames, so that BM25 and dense search both see a realistic spread of rare and common words.

``python -m newsrag.eval.synth --check`` parses a sample back and checks that every headline is found.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["generate", "write_corpus", "questions", "self_check", "DOMAINS"]

DOMAINS = (
    "harbourgazette.example",
    "tidewater-times.example",
    "northlight.example",
    "dailyledger.example",
    "valleypost.example",
    "metrowire.example",
    "coastalherald.example",
    "civicbrief.example",
)

# -- vocabulary --------------------------------------------------------------------------------------
_PLACE_HEADS = (
    "Wren Orv Calder Marl Hollis Brack Tarn Essel Quen Dun Ferr Gal Hav Kel Lun Mor Nes Pell Rav Sorr Thal Ulm "
    "Vex Wick Yar Zell Ash Bram Cor Dray Elm"
).split()
_PLACE_TAILS = "field ane ford mouth bury holm stead wick ton more haven dale crest brook port gate".split()
_SURNAME_HEADS = "Ab Bel Cor Dra El Fen Gor Hal Ist Jor Kas Lor Mav Nor Ost Pra Quil Ros Sev Tor Ulv Var Wes Yve Zan".split()
_SURNAME_TAILS = "ado bek cott dane ez ford gard holt ich ova lund mere nik oux quist rell sen tari vik well".split()
_GIVEN = (
    "Mara Tomas Ines Priya Jonah Lena Oskar Ruth Malik Sofia Dmitri Amara Felix Hana Idris Clara Bruno Nadia "
    "Soren Yara Elliot Greta Rafael Leila Marcus Anouk Kofi Helena Tariq Wilma Caspar Noor Pavel Esther Ravi "
    "Sigrid Dario Maeve Omar Liesel Gideon Farah Anton Carys Emeka Ingrid Luca Saoirse Viktor Zainab"
).split()


@dataclass(frozen=True)
class Topic:
    name: str
    nouns: tuple[str, ...]
    roles: tuple[str, ...]
    orgs: tuple[str, ...]
    units: str


def _topic(name: str, nouns: str, roles: str, orgs: str, units: str) -> Topic:
    return Topic(name, tuple(nouns.split(", ")), tuple(roles.split(", ")), tuple(orgs.split(", ")), units)


TOPICS = (
    _topic(
        "water",
        "reservoir, rationing scheme, desalination plant, water main, drought plan, pipeline upgrade, "
        "hosepipe ban, treatment works",
        "water commissioner, utilities director, hydrologist",
        "Water Board, Utilities Commission, Reservoir Trust",
        "households",
    ),
    _topic(
        "transport",
        "rail strike, timetable, freight line, bus network, tram extension, station upgrade, fare increase, signalling system",
        "transport minister, union negotiator, rail operator chief",
        "Rail Authority, Transit Company, Drivers Union",
        "passengers",
    ),
    _topic(
        "health",
        "vaccine trial, clinic, hospital ward, nasal spray, waiting list, nursing shortage, "
        "emergency department, screening programme",
        "health secretary, lead researcher, chief nurse",
        "Health Trust, Medical Council, Patients Association",
        "patients",
    ),
    _topic(
        "energy",
        "wind farm, substation, electricity tariff, solar array, grid connection, gas pipeline, battery plant, heat network",
        "energy regulator, grid engineer, power company spokesperson",
        "Power Cooperative, Energy Regulator, Grid Operator",
        "homes",
    ),
    _topic(
        "housing",
        "housing estate, rent cap, planning permit, tower block, eviction notice, social housing "
        "scheme, building code, mortgage relief",
        "housing minister, tenant organiser, planning officer",
        "Housing Association, Tenants Union, Planning Board",
        "tenants",
    ),
    _topic(
        "education",
        "school budget, teacher contract, exam season, university campus, tuition fee, literacy "
        "programme, school meal scheme, classroom expansion",
        "education secretary, head teacher, student leader",
        "School District, Teachers Guild, University Senate",
        "pupils",
    ),
    _topic(
        "sport",
        "cup final, stadium lease, transfer fee, training ground, season ticket, youth academy, doping inquiry, broadcast deal",
        "club chairman, head coach, league commissioner",
        "Football Club, Athletics League, Rowing Federation",
        "supporters",
    ),
    _topic(
        "technology",
        "data centre, app store, privacy fine, broadband rollout, chip factory, software update, cyber attack, tablet recall",
        "data protection officer, chief engineer, consumer advocate",
        "Digital Agency, Telecom Group, Consumer Watchdog",
        "users",
    ),
    _topic(
        "farming",
        "grain harvest, fishing quota, dairy price, fertiliser subsidy, orchard blight, irrigation "
        "canal, livestock market, crop insurance",
        "agriculture minister, farmers leader, fisheries inspector",
        "Farmers Federation, Fisheries Council, Grain Exchange",
        "farms",
    ),
    _topic(
        "justice",
        "court ruling, appeal hearing, bail decision, police inquiry, sentencing review, jury trial, "
        "prison transfer, witness statement",
        "chief prosecutor, defence lawyer, police commissioner",
        "High Court, Police Service, Bar Council",
        "cases",
    ),
    _topic(
        "finance",
        "budget deficit, bond issue, interest rate, pension fund, tax rebate, bank merger, port fee, export levy",
        "finance minister, central bank governor, treasury official",
        "Treasury, Savings Bank, Chamber of Commerce",
        "savers",
    ),
    _topic(
        "environment",
        "flood barrier, wildfire season, coastal erosion, emission target, recycling plant, river "
        "cleanup, tree planting drive, air quality alert",
        "environment minister, ecologist, park ranger",
        "Environment Agency, Rivers Trust, Conservation Society",
        "residents",
    ),
    _topic(
        "culture",
        "film festival, museum extension, theatre season, book prize, concert hall, heritage listing, art auction, music venue",
        "culture minister, festival director, museum curator",
        "Arts Council, Heritage Trust, Philharmonic Society",
        "visitors",
    ),
    _topic(
        "labour",
        "factory closure, wage agreement, strike ballot, shipyard contract, warehouse expansion, union "
        "vote, minimum wage, job cuts",
        "labour minister, shop steward, plant manager",
        "Dockworkers Union, Manufacturing Group, Employers Federation",
        "workers",
    ),
    _topic(
        "diplomacy",
        "border talks, naval exercise, ceasefire proposal, trade delegation, embassy visit, sanctions "
        "package, peace summit, troop rotation",
        "foreign minister, ambassador, defence secretary",
        "Foreign Ministry, Defence Council, Border Commission",
        "citizens",
    ),
    _topic(
        "science",
        "storm warning, research vessel, telescope project, earthquake drill, satellite launch, "
        "heatwave plan, glacier survey, laboratory grant",
        "chief scientist, meteorologist, mission director",
        "Space Agency, Weather Service, Science Foundation",
        "researchers",
    ),
)

ADJECTIVES = (
    "sharp modest sudden gradual costly controversial temporary permanent delayed ambitious limited "
    "unexpected significant cautious revised emergency long-awaited disputed scaled-back expanded"
).split()
VERBS = (  # (past tense for prose, third person for headlines)
    ("approved", "Approves"),
    ("delayed", "Delays"),
    ("suspended", "Suspends"),
    ("expanded", "Expands"),
    ("scrapped", "Scraps"),
    ("postponed", "Postpones"),
    ("revised", "Revises"),
    ("defended", "Defends"),
    ("backed", "Backs"),
    ("funded", "Funds"),
    ("extended", "Extends"),
    ("cancelled", "Cancels"),
    ("reviewed", "Reviews"),
    ("endorsed", "Endorses"),
    ("challenged", "Challenges"),
    ("paused", "Pauses"),
)
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
PERIODS = ("winter", "summer", "two years", "three months", "financial year", "spring", "decade", "season")
REASONS = (
    "rising costs",
    "a shortage of staff",
    "legal objections",
    "a lack of public consultation",
    "safety concerns",
    "an accounting error",
    "pressure from local businesses",
    "a failed inspection",
    "falling demand",
    "a dispute over funding",
    "new national rules",
    "a wave of complaints",
)

# Prose templates. Fields: P person, S surname, R role, O org, O2 other org, L place, L2 other place,
# N noun, N2 other noun, A adjective, V past verb, X count, K small count, Y year, Y2 earlier year, M month, D weekday,
# T period, E reason, U units, $ money, % percentage.
SENTENCES = (
    "The {O} {V} the {A} {N} on {D}, a decision that officials in {L} said would affect roughly {X} {U} over the coming {T}.",
    "\u201cWe have spent {K} months preparing for this {N}, and the {N2} is finally in place,\u201d {P}, the {R}, "
    "told reporters in {L}.",
    "According to figures released by the {O}, spending on the {N} rose by {%} in {Y}, the sharpest increase since {Y2}.",
    "Critics, including {P} of the {O2}, argued that the {N} had been rushed and that people in {L} were given "
    "too little time to respond.",
    "The {N} is expected to cost about {$} and will be reviewed by the {O} before the end of {M}.",
    "{S} said the {N2} would remain {A} until an independent review of the {N} is completed later this year.",
    "Local businesses in {L} reported a {A} drop in trade after the {N} was announced, and several owners said "
    "they had not been consulted.",
    "The {R} declined to say whether the {N} would be extended to neighbouring {L2}, where a similar {N2} was abandoned in {Y2}.",
    "Officials stressed that the {N} was temporary and that the {N2} would be reassessed every {K} weeks.",
    "In a statement, the {O} said it had received more than {X} complaints about the {N} since {M}.",
    "The {N} was first proposed in {Y2} but stalled for years because of {E}.",
    "Opposition members in {L} called for a public hearing on the {N}, citing {E} and the {A} timetable.",
    "\u201cNobody in {L} should have to choose between the {N} and the {N2},\u201d {S} said at a meeting on {D}.",
    "{P}, who has led the {O2} since {Y2}, said the group would challenge the {N} if the {O} did not publish its assessment.",
    "The announcement followed {A} talks between the {O} and the {O2} that lasted until late on {D} evening.",
    "Residents who attended the briefing in {L} asked why the {N2} had not been mentioned in the original plan.",
    "A report commissioned by the {O} found that {%} of {U} in {L} would be affected by the {N} within a year.",
    "The {R} told the council that {E} had forced the {O} to rethink the {N} twice in {Y}.",
    "Under the new arrangement, the {N} will be managed by a joint committee of the {O} and the {O2}.",
    "Supporters of the {N} said it would save around {$} a year once the {N2} was fully running.",
    "{S} added that a second phase of the {N} could begin in {M} if funding from {L2} was confirmed.",
    "The {O2} said in a written response that it had warned about {E} as early as {Y2}.",
    "Turnout at the public consultation in {L} was {A}, with about {X} people submitting comments on the {N}.",
    "Engineers working on the {N2} said the {A} schedule left little room for testing before {M}.",
    "The {N} has become a central issue in the {Y} election campaign in {L}, where {S} is seeking a second term.",
    "Neither the {O} nor the {R} responded to questions about how the {N} would be paid for after {Y}.",
    "\u201cThe {N} is not the end of the matter,\u201d said {P}, adding that the {O2} would keep pressing for answers.",
    "Data from the {O} showed that {X} {U} in {L2} had already signed up for the {N2} by the end of {M}.",
    "The {R} said a final decision on the {N} would be taken at the next meeting of the {O} in {M}.",
    "Some {U} in {L} said they first learned about the {N} from a notice posted on {D} morning.",
)
# Sentences that open a section: they start with a capitalised word followed by lower case letters, which
# is what makes the glued headline before them detectable (``...RepairsThe council ...``).
OPENERS = (
    "The {O} {V} the {N} on {D} after weeks of {A} debate about {E}.",
    "The {R} for {L}, {P}, said the {N} had been {V} because of {E}.",
    "Officials in {L} confirmed on {D} that the {N} would go ahead despite {E}.",
    "People in {L} have been asked to comment on the {N2} before the end of {M}.",
    "The {N2} has divided opinion in {L} since it was first discussed in {Y2}.",
    "Figures published by the {O2} suggest the {N} will cost {$} more than planned.",
    "Several members of the {O} said privately that the {N} was {A} and poorly explained.",
)
HEADLINES = (
    "{L} {Nt} {Vt} After {At} Vote",
    "{Ot} {Vt} {Nt}",
    "{S} Says {Nt} Will Not Be Delayed",
    "{Nt} Costs Rise for {L} Residents",
    "What the {Nt} Means for {L}",
    "{L2} Watches {L} {Nt} Closely",
    "Questions Remain Over {Nt} Funding",
    "{Ot} Faces Criticism Over {Nt}",
    "Critics Say {Nt} Ignores {L} Concerns",
    "{Nt} and {N2t} Linked in New Report",
    "{At} Start for {L} {Nt}",
    "Second Phase of {Nt} Planned for {M}",
)
TITLES = (
    "{L} {Nt} {Vt} Amid {Et}",
    "{Ot} {Vt} {Nt} in {L}",
    "{S} Defends {L} {Nt} as Critics Mount",
    "{Nt} Plan Splits {L} and {L2}",
    "{L} Braces for {At} {Nt}",
)
QUESTIONS = (
    "What did {P} say about the {N}?",
    "What happened to the {N} in {L}?",
    "How much will the {N} in {L} cost?",
    "Why did the {O} change the {N}?",
    "Who criticised the {N} in {L}?",
    "What did the {R} say about the {N2}?",
    "When will the {O} decide on the {N}?",
    "{L} {N} {N2}",
)


def _title_case(text: str) -> str:
    small = {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
    words = text.split()
    return " ".join(
        w if (i and w in small) else "-".join(p[:1].upper() + p[1:] for p in w.split("-")) for i, w in enumerate(words)
    )


def _vocab() -> tuple[list[str], list[str], list[str]]:
    places = [h + t for h in _PLACE_HEADS for t in _PLACE_TAILS]
    rng = random.Random("newsrag-synth-vocab")
    rng.shuffle(places)
    places = places[:400] + [f"Port {p}" for p in places[400:460]] + [f"New {p}" for p in places[460:500]]
    surnames = [h + t for h in _SURNAME_HEADS for t in _SURNAME_TAILS]
    rng.shuffle(surnames)
    return places, surnames, list(_GIVEN)


PLACES, SURNAMES, GIVEN_NAMES = _vocab()


# -- one article ---------------------------------------------------------------------------------------
@dataclass
class Spec:
    """Everything about one synthetic article: its text and the facts questions are drawn from."""

    filename: str
    text: str
    url: str
    date: dt.date
    title: str
    headlines: list[str]
    slots: dict[str, str] = field(default_factory=dict)


class _Filler:
    """Fills templates with an article's cast (two people, two organisations, two places, its topic)."""

    def __init__(self, rng: random.Random, date: dt.date) -> None:
        self.rng = rng
        self.topic = rng.choice(TOPICS)
        self.date = date
        places = rng.sample(PLACES, 2)
        names = [f"{rng.choice(GIVEN_NAMES)} {s}" for s in rng.sample(SURNAMES, 2)]
        other = rng.choice([t for t in TOPICS if t is not self.topic])
        self.cast = {
            "L": places[0],
            "L2": places[1],
            "P": names[0],
            "P2": names[1],
            "O": f"{places[0]} {self.topic.orgs[0]}",
            "O2": rng.choice([f"{places[1]} {rng.choice(self.topic.orgs[1:])}", f"{places[0]} {rng.choice(other.orgs)}"]),
            "R": rng.choice(self.topic.roles),
            "U": self.topic.units,
        }
        self.main, self.second = rng.sample(self.topic.nouns, 2)
        self.cast["N"], self.cast["N2"] = self.main, self.second
        self._unused: list[str] = []

    def next_template(self) -> str:
        """A prose template not used yet in this article (until all have been used)."""
        if not self._unused:
            self._unused = list(SENTENCES)
            self.rng.shuffle(self._unused)
        return self._unused.pop()

    def fill(self, template: str, focus: str | None = None) -> str:
        rng = self.rng
        topic_nouns = self.topic.nouns
        noun = focus or (self.main if rng.random() < 0.5 else rng.choice(topic_nouns))
        noun2 = rng.choice([n for n in topic_nouns if n != noun])
        person = self.cast["P"] if rng.random() < 0.65 else self.cast["P2"]
        year = self.date.year
        verb = rng.choice(VERBS)
        adj = rng.choice(ADJECTIVES)
        values = {
            "P": person,
            "S": person.split()[-1],
            "R": self.cast["R"],
            "O": self.cast["O"],
            "O2": self.cast["O2"],
            "L": self.cast["L"],
            "L2": self.cast["L2"],
            "N": noun,
            "N2": noun2,
            "A": adj,
            "V": verb[0],
            "X": str(rng.choice([rng.randint(3, 60), rng.randint(100, 990), rng.randint(1_000, 45_000)])),
            "K": str(rng.randint(2, 18)),
            "Y": str(year),
            "Y2": str(year - rng.randint(2, 12)),
            "M": rng.choice(MONTHS),
            "D": rng.choice(WEEKDAYS),
            "T": rng.choice(PERIODS),
            "E": rng.choice(REASONS),
            "U": self.cast["U"],
            "$": f"${rng.randint(2, 95)}.{rng.randint(1, 9)} million",
            "%": f"{rng.randint(3, 64)} percent",
            "Nt": _title_case(noun),
            "N2t": _title_case(noun2),
            "Vt": verb[1],
            "At": _title_case(adj),
            "Ot": self.cast["O"],
            "Et": _title_case(rng.choice(REASONS)),
        }
        out = template
        for key in sorted(values, key=len, reverse=True):  # "N2t" before "N2" before "N"
            out = out.replace("{" + key + "}", values[key])
        return out[:1].upper() + out[1:]


def _date(rng: random.Random) -> dt.date:
    start = dt.date(2020, 1, 1).toordinal()
    return dt.date.fromordinal(rng.randint(start, dt.date(2026, 6, 30).toordinal()))


def _slug(title: str) -> str:
    return "-".join("".join(ch for ch in w.lower() if ch.isalnum()) for w in title.split()[:8])


def article_spec(i: int, seed: int = 0) -> Spec:
    """The synthetic article number ``i`` of the corpus with this seed."""
    from ..ingest.parse import article_id_for

    rng = random.Random(f"newsrag-synth:{seed}:{i}")
    date = _date(rng)
    f = _Filler(rng, date)
    title = f.fill(rng.choice(TITLES), focus=f.main)
    domain = DOMAINS[rng.randrange(len(DOMAINS))]
    url = f"https://{domain}/{date:%Y/%m/%d}/{_slug(title)}-{seed}-{i}.html"
    n_heads = rng.randint(3, 6)
    budget = rng.randint(390, 540)  # words in the body, headlines excluded
    per_section = budget / (n_heads + 1)
    body: list[str] = []
    words = 0
    heads: list[str] = []
    headline_pool = rng.sample(HEADLINES, n_heads)
    for section in range(n_heads + 1):
        goal = words + per_section
        focus = f.main if section == 0 else rng.choice(f.topic.nouns)
        sentences: list[str] = []
        if section:
            head = f.fill(headline_pool[section - 1], focus=focus)
            heads.append(head)
            sentences.append(f.fill(rng.choice(OPENERS), focus=focus))
        while words + sum(len(s.split()) for s in sentences) < goal - 10 or len(sentences) < 3:
            sentences.append(f.fill(f.next_template(), focus=focus if rng.random() < 0.6 else None))
        words += sum(len(s.split()) for s in sentences)
        # paragraph breaks between sentences, never right around a headline
        paragraph = sentences[0]
        for s in sentences[1:]:
            paragraph += ("\n\n" if rng.random() < 0.18 else " ") + s
        if section:
            body.append(heads[-1] + paragraph)  # glued to the next sentence ...
        else:
            body.append(paragraph)
    text = "".join(body)  # ... and to the end of the previous one
    text = f" date {date.isoformat()} {url}\n\n{title}\n\n{text}\n"
    filename = f"{i:05d}_{article_id_for(url, '')}.txt"
    slots = dict(f.cast)
    return Spec(filename, text, url, date, title, heads, slots)


def generate(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` articles as (file name, file text), deterministic in ``(n, seed)``."""
    return [(s.filename, s.text) for s in (article_spec(i, seed) for i in range(n))]


def write_corpus(folder: str | Path, n: int, seed: int = 0) -> list[Path]:
    """Write ``n`` synthetic articles into ``folder`` (created if needed); returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in generate(n, seed):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def questions(n_articles: int, n_questions: int, seed: int = 0, draw: int = 0) -> list[str]:
    """Questions about articles of the ``n_articles`` corpus with this seed, in the corpus vocabulary;
    ``draw`` picks another deterministic sample (e.g. warm-up questions distinct from measured ones)."""
    rng = random.Random(f"newsrag-synth-questions:{seed}:{n_articles}:{draw}")
    out = []
    for _ in range(n_questions):
        spec = article_spec(rng.randrange(n_articles), seed)
        values = spec.slots
        q = rng.choice(QUESTIONS)
        for key in sorted(values, key=len, reverse=True):
            q = q.replace("{" + key + "}", values[key])
        out.append(q)
    return out


def self_check(n: int = 200, seed: int = 0) -> None:
    """Parse ``n`` generated articles back; raise if a headline, date or URL is not recovered exactly."""
    from ..ingest.parse import parse_text

    problems = []
    for i in range(n):
        spec = article_spec(i, seed)
        article = parse_text(spec.text, source=spec.filename)
        found = [s.headline for s in article.sections if s.headline]
        if found != spec.headlines or article.date != spec.date or article.url != spec.url or article.title != spec.title:
            problems.append(f"{spec.filename}: expected {spec.headlines}, parsed {found}")
        words = len(article.text.split())
        if not 380 <= words <= 700:
            problems.append(f"{spec.filename}: {words} words")
    if problems:
        raise AssertionError(f"{len(problems)} of {n} synthetic articles do not parse back:\n" + "\n".join(problems[:10]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="parse a sample back and check the headlines")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the corpus into this folder")
    args = parser.parse_args()
    if args.check:
        self_check(args.n, args.seed)
        print(f"ok: {args.n} articles parse back with all their headlines")
    if args.out:
        write_corpus(args.out, args.n, args.seed)
        print(f"wrote {args.n} articles to {args.out}")


if __name__ == "__main__":
    main()
