"""Chain input is bounded and checked before any work: sizes within the limits, filters of the right
shape, and a follow-up rewriter whose backtracking patterns only ever see a bounded window of the text,
however long and hostile the history is (issue 11, items 4 and 6)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from newsrag.rag import rewrite as rewrite_module
from newsrag.rag.errors import QueryError
from newsrag.rag.evidence import ChainInput, Limits
from newsrag.rag.retrieve import Filters
from newsrag.rag.rewrite import MAX_RESTATED, rewrite


def parse(raw: Any, limits: Limits | None = None) -> ChainInput:
    return ChainInput.parse(raw, 5, limits)


@pytest.mark.parametrize("filters", ["sputnikglobe.com", ["since", "2025-01-01"], 42, 3.5, True])
def test_filters_of_the_wrong_shape_are_a_query_error(filters: Any) -> None:
    with pytest.raises(QueryError, match="filters must be an object such as"):
        parse({"question": "Q?", "filters": filters})


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"since": ["2025-01-01"]}, r"filters.since \['2025-01-01'\] is not a string"),
        ({"sources": 7}, "filters.sources must be a list of strings, got '7'"),
        ({"sources": [1, 2]}, "filters.sources must be a list of strings"),
        ({"when": "today"}, r"unknown filter \['when'\]; allowed: since, until, sources, article_ids"),
        ({"sources": ["s.example"] * 1001}, r"filters.sources has 1001 values; the limit is 1000 .NEWSRAG_MAX_FILTER_VALUES"),
    ],
)
def test_bad_filter_values_name_the_filter(filters: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse({"question": "Q?", "filters": filters})


def test_since_after_until_is_refused_instead_of_answering_nothing() -> None:
    with pytest.raises(QueryError, match="filters.since 2026-04-01 is after filters.until 2026-03-01.*swap them"):
        Filters.parse({"since": "2026-04-01", "until": "2026-03-01"})
    assert Filters.parse({"since": "2026-03-01", "until": "2026-03-01"}).since is not None  # one day is a range


def test_size_limits_name_the_setting() -> None:
    limits = Limits(question_chars=50, history_items=3, history_item_chars=20, filter_values=2)
    with pytest.raises(QueryError, match="filters.article_ids has 3 values; the limit is 2"):
        parse({"question": "Q?", "filters": {"article_ids": ["a", "b", "c"]}}, limits)
    with pytest.raises(QueryError, match="the question is 51 characters; the limit is 50 .NEWSRAG_MAX_QUESTION_CHARS"):
        parse({"question": "x" * 51}, limits)
    with pytest.raises(QueryError, match="'history' has 4 turns; the limit is 3 .NEWSRAG_MAX_HISTORY_ITEMS"):
        parse({"question": "Q?", "history": ["a", "b", "c", "d"]}, limits)
    with pytest.raises(QueryError, match=r"history\[1\] is 21 characters; the limit is 20"):
        parse({"question": "Q?", "history": ["ok", "y" * 21]}, limits)
    ok = parse({"question": "x" * 50, "history": ["a", "b", "z" * 20], "filters": {"sources": ["a", "b"]}}, limits)
    assert ok.question == "x" * 50 and len(ok.history) == 3 and ok.filters.sources == ("a", "b")


def test_limits_come_from_settings() -> None:
    from newsrag.rag.settings import Settings

    settings = Settings(
        _env_file=None, max_question_chars=100, max_history_items=2, max_history_item_chars=30, max_filter_values=5
    )  # type: ignore[call-arg]
    assert Limits.of(settings) == Limits(question_chars=100, history_items=2, history_item_chars=30, filter_values=5)


class _Recording:
    """A compiled pattern that records the length of every string it is asked to scan."""

    def __init__(self, pattern: re.Pattern[str], seen: list[int]) -> None:
        self.pattern = pattern
        self.seen = seen

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.pattern, name)

        def call(string: str, *args: Any, **kwargs: Any) -> Any:
            self.seen.append(len(string) - (args[0] if name == "search" and args else 0))
            return method(string, *args, **kwargs)

        return call


ADVERSARIAL = [
    "did " * 250_000,  # every "did" starts a lazy scan for a speech verb
    "about on regarding " * 55_000,  # every "about" starts a lazy scan to the end
    "A " + " " * 1_000_000 + "B",  # whitespace runs between capitalised words
    "What about " + "x" * 1_000_000 + "?",
    ("Did he " + "say " * 10 + "it? ") * 30_000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=["did", "about", "spaces", "what-about", "mixed"])
def test_rewriter_patterns_see_a_bounded_window_of_a_megabyte_of_hostile_text(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    for name in ("_WHAT_ABOUT", "_ABOUT", "_SUBJECT", "_PROPER"):
        monkeypatch.setattr(rewrite_module, name, _Recording(getattr(rewrite_module, name), seen))
    out = rewrite(text, [text, text, "What did Varga-Lund say about drones?"])
    out2 = rewrite("And what about him?", [text] * 20)
    assert seen and max(seen) <= MAX_RESTATED, max(seen)
    assert isinstance(out, str) and isinstance(out2, str)


def test_follow_ups_still_resolve_within_the_window() -> None:
    first = "What did Hegseth say about borders?"
    assert rewrite("Did he say anything about troops?", [first]) == "Did Hegseth say anything about troops?"
    assert rewrite("What about troops?", [first]) == "What did Hegseth say about troops?"
    long_turn = "Please tell me, " + "in great detail, " * 200 + first
    assert "troops" in rewrite("What about troops?", [long_turn])


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        # a name replaces a person's pronoun, without the possessive it had in the earlier question
        (["How long is Lena Forsgaard's new contract?"], "What salary is she on?", "What salary is Lena Forsgaard on?"),
        # words capitalised only by their place ("By", "According") or months are nobody's name
        (
            ["By how much has the bill for the warships gone up?"],
            "What did he blame for that?",
            "What did he blame for that? (By how much has the bill for the warships gone up?)",
        ),
        (
            ["Which economist said in March that he expected another cut?"],
            "How did he adjust that forecast?",
            "How did he adjust that forecast? (Which economist said in March that he expected another cut?)",
        ),
        # after "who ...?", "he" is the answer, not the earlier question's subject: search with both
        (
            ["Who has Calmaris proposed as its envoy?"],
            "In which years did he serve as foreign minister?",
            "In which years did he serve as foreign minister? (Who has Calmaris proposed as its envoy?)",
        ),
        # "he" in a question that asks who is that question's own answer
        (
            ["How many people died in storm Mirela?"],
            "Who was the last victim, and where was he found?",
            "Who was the last victim, and where was he found? (How many people died in storm Mirela?)",
        ),
        # a question with names of its own is left alone
        (["How much will the frigates cost?"], "What did Ylva Brandt tell the committee when she testified?", None),
        # ... but a month or a weekday is nobody's name: "that speech" is still the earlier turn's
        (
            ["How big was the crowd when Hallgren spoke at the forum?"],
            "And what did that speech do to bets on a cut in May?",
            "And what did that speech do to bets on a cut in May? (How big was the crowd when Hallgren spoke at the forum?)",
        ),
        (
            ["When is the first frigate due?"],
            "What had he told the graduating officers about that ship on Tuesday?",
            "What had he told the graduating officers about that ship on Tuesday? (When is the first frigate due?)",
        ),
    ],
)
def test_follow_ups_resolve_people_and_leave_answers_to_the_search(
    history: list[str], question: str, expected: str | None
) -> None:
    assert rewrite(question, history) == (expected or question)
