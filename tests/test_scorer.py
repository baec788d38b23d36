"""The learned scorer (NEWSRAG_QUOTE_SCORER=learned): question analysis, features, the shipped model
file, and the chain that uses them, whose citations keep the span invariant and whose abstentions say
what the articles lack."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from chain_helpers import BORDERS, assert_valid, corpus_chain

from newsrag.ingest.parse import parse_text
from newsrag.rag.chain import NewsragChain
from newsrag.rag.errors import ConfigError
from newsrag.rag.features import CANDIDATE_FEATURES, QUESTION_FEATURES, Context, _quote_speaker, outlets_named
from newsrag.rag.question import analyze, answer_kind_met, dates_in, name_phrases
from newsrag.rag.quote import Candidate, select
from newsrag.rag.records import SentenceRecord
from newsrag.rag.scorer import SCORER_PATH, load_scorer


def test_analyze_reads_names_dates_and_the_kind_of_answer() -> None:
    info = analyze("What did Varga-Lund say about drones at the Port Wenlow Naval Academy on March 12?")
    assert info.names == ["Varga-Lund", "Port Wenlow Naval Academy"]
    assert info.dates == [dt.date(2026, 3, 12)] and info.months == {3}
    assert "drone" in info.topic_terms and not {"march", "12", "wenlow"} & info.topic_terms
    assert analyze("How much will the four frigates cost now?").kind == "amount"
    assert analyze("Who disputed the 1,200 figure?").kind == "person"
    assert analyze("When will the tram open?").kind == "time"
    assert analyze("Why did the bank cut rates in April?").months == {4}


@pytest.mark.parametrize(
    ("question", "phrases"),
    [
        (
            "What did Prime Minister Hanna Rostveldt tell the Kessmoor Chamber of Commerce?",
            ["Hanna Rostveldt", "Kessmoor Chamber of Commerce"],
        ),
        ("Why did National Renewal's Per Hakansson object?", ["National Renewal", "Per Hakansson"]),
        ("According to the Arvendal Post's April 10 report, who won?", ["Arvendal Post"]),
        ("How did the Veldhaven Cyclists' Federation react?", ["Veldhaven Cyclists' Federation"]),
        ("What did Wenlow Yards' chief executive say?", ["Wenlow Yards"]),
        ("What did Hegseth say about borders?", []),  # one word: too common a shape to check as printed
    ],
)
def test_name_phrases_are_names_as_an_article_prints_them(question: str, phrases: list[str]) -> None:
    assert name_phrases(analyze(question)) == phrases


def test_dates_in_reads_both_orders_and_iso() -> None:
    assert dates_in("on 4 March and on April 9, 2026, then 2026-04-14") == [
        dt.date(2026, 4, 14), dt.date(2026, 3, 4), dt.date(2026, 4, 9),
    ]  # fmt: skip
    assert dates_in("February 30") == []  # not a day


@pytest.mark.parametrize(
    ("text", "kind", "met"),
    [
        ("The fine was 85 million kronor.", "amount", True),
        ("The regulator will decide later.", "amount", False),
        ("Spokeswoman Lena Holm said so.", "person", True),
        ("It will open in 2031.", "time", True),
        ("It was closed because the roof leaked.", "reason", True),
        ("A share of 29% remained.", "percent", True),
    ],
)
def test_answer_kind(text: str, kind: str, met: bool) -> None:
    assert answer_kind_met(text, kind) is met


def test_outlets_named_spell_domains() -> None:
    sources = {"northernwire.example", "theledger.example", "arvendalpost.example"}
    assert outlets_named(analyze("According to the Northern Wire, who won?"), sources) == {"northernwire.example"}
    assert outlets_named(analyze("What did The Ledger report?"), sources) == {"theledger.example"}
    assert outlets_named(analyze("What did Varga-Lund say?"), sources) == set()


def test_the_shipped_scorer_matches_the_code_and_a_stale_one_is_refused(tmp_path: Path) -> None:
    scorer = load_scorer(SCORER_PATH)
    assert scorer.quote.features == CANDIDATE_FEATURES and scorer.answerable.features == QUESTION_FEATURES
    assert 0 < scorer.abstain_below < 1 and 0 < scorer.keep_ratio <= 1
    probs = scorer.quote(np.zeros((3, len(CANDIDATE_FEATURES))))
    assert probs.shape == (3,) and ((probs > 0) & (probs < 1)).all()
    raw = json.loads(SCORER_PATH.read_text(encoding="utf-8"))
    raw["quote"]["features"] = raw["quote"]["features"][:-1]
    stale = tmp_path / "scorer.json"
    stale.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scorer.json: trained on features .* retrain it"):
        load_scorer(stale)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> NewsragChain:
    chain = corpus_chain(tmp_path_factory.mktemp("learned"), quote_scorer="learned")
    assert chain.scorer is not None
    return chain


@pytest.mark.slow
def test_learned_chain_cites_exact_spans_and_puts_the_answer_first(learned: NewsragChain) -> None:
    answer = learned.invoke({"question": BORDERS})
    assert_valid(answer, learned.store)
    assert not answer.abstained and "pre-2014 borders" in answer.citations[0].quote
    assert learned.scorer is not None and learned.scorer.max_chars == 600
    gaps = 10 * len(answer.citations)  # a quote of neighbouring sentences also holds the space between them
    assert sum(len(c.quote) for c in answer.citations) <= max(600, len(answer.citations[0].quote)) + gaps


def _candidate(i: int, size: int, score: float, article: str = "a") -> Candidate:
    vector = np.zeros(4, dtype=np.float32)
    vector[i % 4] = 1.0
    record = SentenceRecord(f"{article}:{i}", article, f"{article}#0", 0, i, 1000 * i, 1000 * i + size, "x" * size, vector)
    return Candidate(record, score, score, 0.0, score)


def test_selection_keeps_the_best_quote_and_stays_within_the_character_budget() -> None:
    cands = [_candidate(0, 450, 0.9), _candidate(2, 300, 0.85), _candidate(4, 100, 0.8, "b"), _candidate(6, 120, 0.79, "c")]
    chosen = select(cands, 4, 0.0, max_chars=600)
    assert [c.record.id for c in chosen] == ["a:0", "b:4"]  # 300 and then 120 more would pass 600
    assert sum(c.record.end - c.record.start for c in chosen) <= 600
    assert len(select(cands, 4, 0.0)) == 4  # no budget: every candidate above the floor
    assert [c.record.id for c in select(cands[:1], 4, 0.0, max_chars=100)] == ["a:0"]  # the best one always


@pytest.mark.slow
def test_learned_chain_says_what_the_articles_lack(learned: NewsragChain) -> None:
    answer = learned.invoke({"question": "What did Hegseth say about the Zorvanian moon base?"})
    assert_valid(answer, learned.store)
    assert answer.abstained and "none of them mentions" in answer.answer


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "reason"),
    [
        # Allingham speaks in the section on the operator's answer; Kessel Valley is in the one on commuters
        (
            "What did Rupert Allingham tell union members at the Kessel Valley depot?",
            "no passage that reports what “Rupert Allingham” said mentions “Kessel Valley”",
        ),
        # the articles on the swimming pools came out two weeks after 1 August 2024 and do not name that day
        (
            "What did Mayor Brannock say about swimming pools on 1 August 2024?",
            "no article with a passage on this reports 1 August 2024",
        ),
    ],
)
def test_learned_chain_abstains_when_the_passages_do_not_support_the_question(
    learned: NewsragChain, question: str, reason: str
) -> None:
    """The question model finds these answerable; the default chain's support checks, read from the hand
    scores, refuse them and say why."""
    answer = learned.invoke({"question": question})
    assert answer.abstained and answer.citations == [], answer.answer
    assert reason in answer.answer


class _SameIdf:
    def idf(self, term: str) -> float:
        return 1.0


@pytest.mark.parametrize(("speaker", "share"), [("Emil Varga-Lund", 1.0), ("Matthias Oberlin", 0.0)])
def test_quoted_words_are_checked_against_who_said_them(speaker: str, share: float) -> None:
    article = parse_text(
        " date 2026-03-20 https://x.example/a\nFrigates Delayed\nThe committee met on Friday. "
        '"A late frigate is better than no frigate," Emil Varga-Lund told the committee. He left at noon. '
        "The vote was close. Much later, Matthias Oberlin called the programme a waste."
    )
    info = analyze(f"Why did {speaker} say that 'a late frigate is better than no frigate'?")
    ctx = Context(info, {article.id: article}, [], cast(Any, _SameIdf()), set())
    assert _quote_speaker(ctx, ["a late frigate is better than no frigate"]) == share
    # words no retrieved sentence holds say nothing about the speaker
    assert _quote_speaker(ctx, ["you cannot fence off the sky"]) == 1.0
