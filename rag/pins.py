"""What a question pins down besides its topic, used as soft preferences (never as filters: a reader who
misnames an outlet or a day still gets the story).

* **an outlet** it names ("What did the Arvendal Post report ...?"): its sections are retrieved too, and
  its sentences preferred;
* **a day** it names ("... at the summit on 12 March?"): the sections of articles dated that day or up to
  three days later (the reports of it) are retrieved too; sentences of articles dated up to two days
  after it are preferred, and those of articles published before it (which cannot report it) demoted.
  A day named as what was chosen ("Why did the council settle on May 17 for the referendum?") is not
  when anything the question asks about happened, and pins nothing;
* **the latest word** ("now", "in the end", "most recent"): the sections of articles published after the
  newest retrieved one are retrieved too, for quotes only (a later report of the story may share fewer
  words with the question than the first ones), and newer articles' sentences are preferred, in proportion to their date
  between the oldest and the newest candidate's (the later articles count as the newest).

A user's own filters take precedence: with any filter set, no extra section is retrieved. The weights
were chosen on the news dev split (docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .features import spells_outlet
from .models import Article
from .question import DAY_MENTION, analyze, dates_in, name_parts
from .quote import Candidate, rank
from .retrieve import Filters

__all__ = ["Pins", "OUTLET_BONUS", "DAY_BONUS", "LATEST_BONUS"]

OUTLET_BONUS = 0.15  #: added to the score of a sentence from the outlet the question names
DAY_BONUS = 0.12  #: added for an article dated the named day to two days after, taken for one dated before it
LATEST_BONUS = 0.15  #: added, scaled by recency, to the newest candidates' scores when the question asks for the latest
EXTRA_SECTIONS = 3  #: sections retrieved per named outlet or day, beside the question's own
REPORT_DAYS = 2  #: an article dated up to this many days after a named day reports it
MAX_PINNED = 2  #: outlets, and days, a question pins at most (each costs a search)
#: a day named as the thing chosen: "settle on May 17", "moved it to 3 June", "scheduled for April 2" (not
#: "decided on May 6" or "the strike was settled on March 3", which say when)
_CHOSEN_DAY = re.compile(
    r"\b(?:settle\s+on|settling\s+on|set\s+(?:it\s+)?for|chose|choose|choosing|chosen|pick\w*|"
    r"fix\w*\s+for|schedul\w*\s+(?:it\s+)?for|mov\w*\s+(?:it\s+)?to|postpon\w*\s+(?:it\s+)?(?:to|until)|"
    r"put\s+(?:it\s+)?off\s+until|(?:brought|bring)\s+(?:it\s+)?forward\s+to|opt\w*\s+for)\s+(?:the\s+)?" + DAY_MENTION,
    re.I,
)
_LATEST = re.compile(
    r"\b(now|latest|currently|final(ly)?|so far|revised|updated|eventually|in the end|most recent|newest)\b", re.I
)


@dataclass(frozen=True)
class Pins:
    outlets: frozenset[str] = frozenset()
    days: tuple[dt.date, ...] = ()
    latest: bool = False
    #: with ``latest``: the newest retrieved article's date; newer articles are searched too
    after: dt.date | None = None

    @classmethod
    def read(cls, turn: str, sources: frozenset[str], near: dt.date | None) -> Pins:
        """The pins of a question's current turn; ``sources`` are the stored outlets (domains), ``near`` the
        date of the newest retrieved article (a day named without its year is read in its story's year)."""
        names = {part for name in analyze(turn).names for part in name_parts(name)}
        outlets = frozenset(sorted(s for s in sources if any(spells_outlet(n, s) for n in names))[:MAX_PINNED])
        days = tuple(sorted(set(dates_in(_CHOSEN_DAY.sub(" ", turn), near=near))))[:MAX_PINNED]
        latest = bool(_LATEST.search(turn))
        return cls(outlets, days, latest, near if latest else None)

    def __bool__(self) -> bool:
        return bool(self.outlets or self.days or self.latest)

    def searches(self, filters: Filters) -> list[Filters]:
        """The extra section searches: one per named outlet and day, unless the user filtered."""
        if filters != Filters():
            return []
        out = [Filters(sources=(s,)) for s in sorted(self.outlets)]
        return out + [Filters(since=d, until=d + dt.timedelta(days=3)) for d in self.days]

    def quote_searches(self, filters: Filters) -> list[Filters]:
        """The searches for quotes only: over the articles newer than the newest retrieved, when the
        question asks for the latest word (their best sections may be on another story, so they never
        decide whether to answer); none if the user filtered."""
        if filters != Filters() or self.after is None:
            return []
        return [Filters(since=self.after + dt.timedelta(days=1))]

    def prefer(self, candidates: list[Candidate], articles: dict[str, Article], scale: list[Candidate] | None = None) -> None:
        """Adjust the candidates' scores in place and re-sort them. How new an article counts is read
        between the oldest and the newest of the ``scale`` candidates' articles (default: ``candidates``)."""
        if not self or not candidates:
            return
        dated = [d for d in (_date(c, articles) for c in (candidates if scale is None else scale)) if d]
        oldest, newest = (min(dated).toordinal(), max(dated).toordinal()) if dated else (0, 0)
        if self.after is not None:
            # the scale is the question's own retrieval's: the newer articles searched beside it count as newest
            newest = min(newest, self.after.toordinal())
        for c in candidates:
            a = articles.get(c.record.article_id)
            if a is None:
                continue
            if a.source in self.outlets:
                c.score += OUTLET_BONUS
            if self.days and a.date:
                if any(0 <= (a.date - d).days <= REPORT_DAYS for d in self.days):
                    c.score += DAY_BONUS
                elif a.date < self.days[0]:
                    c.score -= DAY_BONUS
            if self.latest and a.date and newest > oldest:
                c.score += LATEST_BONUS * min(1.0, max(0.0, (a.date.toordinal() - oldest) / (newest - oldest)))
        rank(candidates)


def _date(c: Candidate, articles: dict[str, Article]) -> dt.date | None:
    a = articles.get(c.record.article_id)
    return a.date if a else None
