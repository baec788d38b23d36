"""Find section headlines in article bodies.

Two kinds:

* glued headlines, as crawlers flatten news pages: ``...meeting.Returning to Ukraine's Pre-2014 Borders
  Unrealistic ObjectiveThe idea of...``: a Title-Case run that starts right after a sentence end (or at a
  paragraph start) and ends where its last word is glued to the first word of the next sentence;
* line headlines: a short Title-Case line of its own with no final full stop, followed by a paragraph.

Every result is a ``(start, end)`` span of the text given; nothing is rewritten.
"""

from __future__ import annotations

import re

__all__ = ["find_glued_headlines", "find_line_headlines", "looks_like_headline"]

MAX_HEADLINE_CHARS = 200
MIN_WORDS = 3
MAX_WORDS = 22

# Words a Title-Case headline may leave in lower case.
SMALL_WORDS = frozenset(
    """a an and as at but by de for from in into nor of off on onto or over per the to up upon via vs
    vs. with without amid after before than out is are be""".split()
)
SENTENCE_END = ".!?"
CLOSERS = "\"'”’)]"
OPEN_QUOTES = '"“‘'

_WORD = re.compile(r"\S+")
_HAS_LOWER_WORD = re.compile(r"[a-z]")


def _word_ok(word: str) -> bool:
    core = word.strip(",:;\"'“”‘’()[]—–-")
    if not core:
        return True
    if core.lower() in SMALL_WORDS:
        return True
    first = core[0]
    if not first.isalnum():
        return True  # markup or symbols ("<b>", "&", "#1"): neutral, neither title nor prose
    return first.isupper() or first.isdigit() or first in "$£€"


def looks_like_headline(text: str) -> bool:
    """Title-Case, 3 to 22 words, no sentence break inside, not ending in a comma or colon."""
    if not text or len(text) > MAX_HEADLINE_CHARS or text != text.strip():
        return False
    words = _WORD.findall(text)
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    if not (words[0][0].isupper() or words[0][0].isdigit() or words[0][0] in OPEN_QUOTES):
        return False
    if text[-1] in ",;:-–—(":
        return False
    # a sentence break inside (". X") means this is prose, not a headline
    if re.search(r"[.!?][\"”’]?\s+\S", text):
        return False
    if not all(_word_ok(w) for w in words):
        return False
    last = words[-1].strip('?!"”’')
    # the last word must be a whole capitalised word, a number or an acronym
    return bool(last) and (last[0].isupper() or last[0].isdigit())


def _glue_points(text: str, start: int, stop: int) -> list[int]:
    """Offsets j in (start, stop) where text[j] starts a new word glued to the previous one."""
    points = []
    for j in range(start + 1, stop):
        prev, cur = text[j - 1], text[j]
        nxt = text[j + 1] if j + 1 < len(text) else ""
        if prev.isspace():
            continue
        if cur.isupper() and (nxt.islower() or (cur in "AI" and nxt in " \u00a0")):
            # ObjectiveThe, 2026The, ACMEThe, ObjectiveA new
            if prev.isalnum() or prev in "?!":
                points.append(j)
        elif cur.isupper() and prev.islower() and (nxt.isupper() or (nxt == "." and text[j + 2 : j + 3].isupper())):
            # AgainU.S. officials, AgainNATO allies
            points.append(j)
        elif cur in OPEN_QUOTES and (prev.isalnum() or prev in "?!") and nxt[:1].isupper():
            # Near"We want
            points.append(j)
    return points


def _sentence_stop(text: str, start: int, limit: int) -> int:
    """The first sentence end (punctuation followed by space or newline) at or after start."""
    m = re.compile(r"[.!?][\"”’]?(?=\s)|\n").search(text, start, limit)
    return m.start() if m else limit


def _candidate_starts(text: str) -> list[int]:
    starts = []
    for m in re.finditer(r"(?:^|\n)[ \t]*(?=\S)", text):
        starts.append(m.end())
    for m in re.finditer(r"[.!?][\"”’)]?(?=[A-Z])", text):
        starts.append(m.end())
    return sorted(set(starts))


def find_glued_headlines(text: str) -> list[tuple[int, int]]:
    """Spans of headlines glued to the text around them."""
    found: list[tuple[int, int]] = []
    for i in _candidate_starts(text):
        if i >= len(text) or not text[i].isupper() or (found and i < found[-1][1]):
            continue
        limit = min(len(text), i + MAX_HEADLINE_CHARS + 1)
        stop = _sentence_stop(text, i, limit)
        # the longest Title-Case run wins: "Orvane Courts YouTube Creators", not "Orvane Courts You"
        best = None
        for j in _glue_points(text, i, min(limit, stop + 2)):
            if looks_like_headline(text[i:j]) and _starts_sentence(text, j):
                best = j
        if best is not None:
            found.append((i, best))
    return found


def _starts_sentence(text: str, j: int) -> bool:
    """After a glued headline comes prose: a word, then more words within the same line."""
    tail = text[j : j + 80]
    words = tail.split()
    if len(words) < 2:
        return False
    # prose has lower-case words soon; a run of Title-Case words means we cut a headline in two
    return any(_HAS_LOWER_WORD.match(w) for w in words[1:6])


def find_line_headlines(text: str) -> list[tuple[int, int]]:
    """Spans of headlines that stand on a line of their own (Markdown ``#`` prefix excluded)."""
    found = []
    for m in re.finditer(r"(?m)^[ \t]*(#{1,6}[ \t]+)?(.+?)[ \t\r]*$", text):
        marker, body = m.group(1), m.group(2)
        start, end = m.start(2), m.end(2)
        after = text[m.end() :].lstrip("\r\n")
        if not after.strip():
            continue
        if marker:
            found.append((start, end))
        elif looks_like_headline(body) and body[-1] not in "." and _is_own_paragraph(text, m.start(), m.end()):
            found.append((start, end))
    return found


def _is_own_paragraph(text: str, start: int, end: int) -> bool:
    """A line headline is followed by a line break, and preceded by a break or the text start."""
    before_ok = start == 0 or text[start - 1] == "\n"
    after_ok = end == len(text) or text[end] in "\r\n"
    return before_ok and after_ok
