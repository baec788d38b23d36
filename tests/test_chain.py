"""The retrieval chain over a real store (temporary Chroma, bundled model): answers, the citation
invariant, abstention, follow-ups, filters, streaming, batch and async."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chain_helpers import BORDERS, assert_valid, corpus_chain
from langchain_core.runnables import Runnable, RunnableLambda

from newsrag.ingest import ingest_paths
from newsrag.rag.chain import NewsragChain
from newsrag.rag.errors import QueryError
from newsrag.rag.evidence import ChainInput
from newsrag.rag.extractive import answerable
from newsrag.rag.features import spells_outlet
from newsrag.rag.models import Answer, AnswerChunk, Article, Sentence
from newsrag.rag.pins import Pins
from newsrag.rag.question import dates_in, role_references
from newsrag.rag.records import SentenceRecord
from newsrag.rag.retrieve import Filters
from newsrag.rag.rewrite import restate
from newsrag.rag.scorer import SCORER_PATH, load_scorer
from newsrag.rag.support import _neighbourhood, _reports, _slot, _speaker, _speaks, _withheld, _yet_to_come
from newsrag.rag.text import tokens

SEED_TITLE = "Pentagon Chief Casts Doubt on Ukraine’s NATO Gamble As Peace Talks Loom"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> NewsragChain:
    return corpus_chain(tmp_path_factory.mktemp("chain-home"))


def ask(chain: NewsragChain, question: str, **extra: object) -> Answer:
    answer = chain.invoke({"question": question, **extra})
    assert_valid(answer, chain.store)
    return answer


def test_chain_is_a_langchain_runnable_that_composes(chain: NewsragChain) -> None:
    assert isinstance(chain, Runnable)
    text_only = chain | RunnableLambda(lambda a: a.answer)
    assert "pre-2014 borders" in text_only.invoke({"question": BORDERS})


def test_border_question_quotes_the_article_exactly(chain: NewsragChain) -> None:
    answer = ask(chain, BORDERS)
    assert not answer.abstained
    hits = [c for c in answer.citations if "pre-2014 borders" in c.quote]
    assert hits, answer.answer
    c = hits[0]
    assert c.title == SEED_TITLE
    assert c.headline == "Returning to Ukraine's Pre-2014 Borders Unrealistic Objective"
    assert c.date is not None and c.date.isoformat() == "2025-02-12"
    assert c.url and c.url.startswith("https://sputnikglobe.com/")
    assert f"[{c.n}]" in answer.answer
    assert answer.retrieved and answer.retrieved[0].title == SEED_TITLE
    assert {"embed_ms", "dense_ms", "lexical_ms", "quotes_ms", "compose_ms"} <= set(answer.timings_ms)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Will America send soldiers to guarantee Kyiv's security?", "will not entail the deployment of US forces"),
        ("How much was Velmora fined?", "$27"),
        ("Why did Port Calder introduce water rationing?", "Marrow Creek"),
        ("How did the rail strike end?", "voted to accept"),
    ],
)
def test_answers_cite_the_passage_that_answers(chain: NewsragChain, question: str, expected: str) -> None:
    answer = ask(chain, question)
    assert not answer.abstained, answer.answer
    assert any(expected in c.quote for c in answer.citations), [c.quote for c in answer.citations]


def test_same_statement_in_two_articles_cites_each(chain: NewsragChain) -> None:
    answer = ask(chain, "What did Mayor Brannock say about Kessel Valley's swimming pools?")
    sources = {c.source for c in answer.citations if "swimming pools" in c.quote}
    assert {"tidewater-chronicle.example", "harbor-gazette.example"} <= sources, answer.answer
    # grouped by article: all citations of one article are consecutive
    order = [c.article_id for c in answer.citations]
    assert order == sorted(order, key=order.index)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "How do I bake sourdough bread?",
        "How did Zelensky respond?",
        "What did the Port Calder mayor say about the airport?",
        "How much will the SCI-417 nasal spray cost patients?",
    ],
)
def test_unanswerable_questions_abstain(chain: NewsragChain, question: str) -> None:
    answer = ask(chain, question)
    assert answer.abstained, answer.answer
    assert answer.citations == []
    assert answer.answer.startswith("The stored articles do not answer this question")


def test_an_abstention_under_the_relevance_bar_says_what_is_missing(chain: NewsragChain) -> None:
    answer = ask(chain, "How did Zelensky respond?")
    assert answer.abstained and "none of them mentions “Zelensky”" in answer.answer


def test_a_name_no_article_prints_is_an_abstention_that_names_it(chain: NewsragChain) -> None:
    answer = ask(chain, "What did the Port Calder Cyclists' Federation say about water rationing?")
    assert answer.abstained and answer.citations == []
    assert "none of them mentions “Port Calder Cyclists' Federation”" in answer.answer
    # a title in front of a printed name is not part of it; an outlet is named by its domain, not in text
    assert not ask(chain, "According to the Tidewater Chronicle, what did Mayor Odile Brannock order in Port Calder?").abstained
    # a name the retrieved articles do not print is looked for in the sections the lexical index finds for it
    index = chain.index()
    assert chain._unmentioned("Did Odile Brannock speak?", {}, index) is None
    assert chain._unmentioned("Did Odile Brannock-Smith speak?", {}, index) == "Odile Brannock-Smith"
    assert chain._unmentioned("Did Brannock Odile speak?", {}, index) == "Brannock Odile"  # every word known, not as printed


def test_a_person_named_by_a_role_no_article_prints_is_an_abstention_that_names_it(chain: NewsragChain) -> None:
    # the seed quotes Hegseth on Ukraine's borders; no article quotes (or names) Ukraine's defence minister
    answer = ask(chain, "How did Ukraine's defence minister respond to Hegseth's remarks on the borders?")
    assert answer.abstained and answer.citations == []
    assert "none of them mentions “Ukraine's defence minister”" in answer.answer
    answer = ask(chain, "Who is the mayor of Kessel Valley?")  # Port Calder's mayor accuses Kessel Valley
    assert answer.abstained and "none of them mentions “the mayor of Kessel Valley”" in answer.answer
    # "Port Calder Mayor Odile Brannock": the role printed beside its owner, whichever way round
    for question in ("What did Port Calder's mayor order?", "What did the mayor of Port Calder order?"):
        answer = ask(chain, question)
        assert not answer.abstained and any("Brannock" in c.quote or "mayor" in c.quote.lower() for c in answer.citations)
    # beyond the retrieved articles, the role is looked for in the sections the lexical index finds for it
    index = chain.index()
    assert chain._unmentioned("What did the Kessel Valley Water Authority's chair say?", {}, index) is None
    spokesman = "What did the Kessel Valley Water Authority's spokesman say?"
    assert chain._unmentioned(spokesman, {}, index) == "Kessel Valley Water Authority's spokesman"
    # an outlet is named by its domain, not in text
    assert chain._unmentioned("What did the Tidewater Chronicle's editor write?", {}, index) is None


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("Ostrelian Defence Minister Tomas Reyk said on Monday", True),
        ("Ostrelia's defence minister did not attend.", True),
        ("The talks, said the defence minister of Ostrelia, were over.", True),
        ("Ostrelia's minister of defence, Tomas Reyk, said", True),
        ("Tomas Reyk, minister of defense for Ostrelia, said", True),
        ("Ostrelia's minister of national defence, Tomas Reyk,", True),
        ("Ostrelia’s  defence\nminister", True),
        # a role of someone else beside the owner's name, or another role of the owner, is not that person
        ("Arvendal's Defence Minister Emil Varga-Lund said Ostrelia's troops were a test.", False),
        ("Ostrelia's foreign minister brushed off the question.", False),
        ("Ostrelia. Defence minister Varga-Lund spoke later.", False),
    ],
)
def test_a_role_counts_as_mentioned_only_beside_its_owner(text: str, mentioned: bool) -> None:
    (ref,) = role_references("How did Ostrelia's defence minister respond?")
    assert (ref.owner, ref.modifiers, ref.head) == ("Ostrelia", ("defence",), "minister")
    assert ref.search == "Ostrelia defence minister"  # whole words: the lexical index knows no stems
    assert ref.mentioned_in(text) is mentioned


def test_role_references_read_owners_and_roles_as_an_article_would_print_them() -> None:
    refs = role_references("According to Northern Command's spokeswoman and the manager of the Inland Cooperative Bank, why?")
    assert [(r.phrase, r.owner, r.head) for r in refs] == [
        ("Northern Command's spokeswoman", "Northern Command", "spokeswoman"),
        ("the manager of Inland Cooperative Bank", "Inland Cooperative Bank", "manager"),
    ]
    assert refs[0].mentioned_in("Major Elin Tofte, spokeswoman for Northern Command, told the Sentinel")
    assert refs[1].mentioned_in("At the Kessmoor branch of the Inland Cooperative Bank, manager Jonas Vikstrom said")
    # words in front of the owner that are not a name (a title, a month); "next" says when, not which role
    (ref,) = role_references("In April, who did Drenth want as Prime Minister Rostveldt's next spokesman?")
    assert (ref.owner, ref.modifiers, ref.head, ref.phrase) == ("Rostveldt", (), "spokesman", "Rostveldt's spokesman")
    (ref,) = role_references("What did Hanna Rostveldt's spokesman say?")
    assert ref.mentioned_in("Rostveldt's spokesman, Per Lund, said") and ref.mentioned_in("a spokesman for Rostveldt said")
    assert role_references("What is the president doing?") == [] and role_references("What's the mayor's plan?") == []
    # an ordinary word that can name a role is one only with a word before it
    assert role_references("What is Port Calder's chief concern?") == []
    assert [r.head for r in role_references("What did Aster Bay's fire chief say?")] == ["chief"]
    # "head" stands for any leading role (the union's head is its president); a plural possessive is part of a name
    assert role_references("What did the head of the Lindqvar Students' Union say?") == []
    (ref,) = role_references("What did the president of the Lindqvar Students' Union say?")
    assert ref.owner == "Lindqvar Students' Union"
    assert ref.mentioned_in("Lindqvar Students’ Union president Ida Moe said")
    # a short owner is a whole word ("UN" is not "under")
    (ref,) = role_references("What did the UN's envoy say?")
    assert not ref.mentioned_in("an envoy under pressure") and ref.mentioned_in("the UN envoy said")


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        # the words are Vandermeer's, not Osterhout's
        ("Why did Lena Osterhout say 'Arbitration could take months'?", "do not attribute those words to “Lena Osterhout”"),
        # the council asked for the review; "call for" and "accuse ... of" are read like "said that"
        (
            "Why did Lena Osterhout call for the state Water Arbitration Panel to review how the reservoir was managed?",
            "do not attribute those words to “Lena Osterhout”",
        ),
        # every article on the swimming pools was published in 2024 or January 2025
        (
            "What did Mayor Brannock say about swimming pools on 3 February 2025?",
            "the passages on this come from articles published before 3 February 2025",
        ),
        # the articles on the swimming pools came out two weeks after 1 August 2024 and do not name that day
        (
            "What did Mayor Brannock say about swimming pools on 1 August 2024?",
            "no article with a passage on this reports 1 August 2024",
        ),
        # Osterhout speaks in the rationing story, Salcott scores in the football final: the passages on
        # Osterhout do not speak of Salcott
        ("What did Lena Osterhout say in Salcott?", "no passage on this mentions “Salcott”"),
        # no stored article prints "Zelensky": Hegseth's words on NATO are not his
        ("What did Zelensky say about NATO membership?", "none of them mentions “Zelensky”"),
        ("What did President Zelensky tell reporters about NATO?", "none of them mentions “President Zelensky”"),
        # Allingham speaks in the section on the operator's answer; Kessel Valley is in the one on commuters
        (
            "What did Rupert Allingham tell union members at the Kessel Valley depot?",
            "no passage that reports what “Rupert Allingham” said mentions “Kessel Valley”",
        ),
    ],
)
def test_a_question_the_passages_do_not_support_is_an_abstention_that_says_why(
    chain: NewsragChain, question: str, reason: str
) -> None:
    answer = ask(chain, question)
    assert answer.abstained and answer.citations == [], answer.answer
    assert reason in answer.answer


@pytest.mark.parametrize(
    ("published", "text", "reports"),
    [
        (dt.date(2026, 3, 19), "The minister spoke on Tuesday.", True),  # published within two days of it
        (dt.date(2026, 3, 25), "At the March 17 meeting, the mayor said ...", True),  # names the day later
        (dt.date(2026, 3, 25), "On 17 March the mayor said ...", True),
        (dt.date(2026, 3, 21), "On Tuesday the mayor said ...", True),  # its weekday, in the week after
        (dt.date(2026, 4, 2), "On Tuesday the mayor said ...", False),  # a later Tuesday
        (dt.date(2026, 3, 25), "The mayor spoke at the club.", False),
        (dt.date(2026, 3, 10), "The meeting on March 17 will decide ...", False),  # a preview reports nothing
    ],
)
def test_which_article_reports_a_named_day(published: dt.date, text: str, reports: bool) -> None:
    """17 March 2026 was a Tuesday."""
    article = Article(id="a", title="t", date=published, text=text)
    assert _reports(article, dt.date(2026, 3, 17)) is reports


@pytest.mark.parametrize(
    ("question", "names", "speaker"),
    [
        (
            "What did Wenlow Yards' chief executive Ylva Brandt tell the committee?",
            ["Wenlow Yards", "Ylva Brandt"],
            "Ylva Brandt",
        ),
        (
            "What did Governor Pieter Hallgren tell the Chamber?",
            ["Governor Pieter Hallgren", "Hall", "Chamber"],
            "Governor Pieter Hallgren",
        ),
        ("How did Hallgren respond?", ["Hallgren"], "Hallgren"),
        ("What did the Pentagon chief say about borders?", ["Pentagon"], None),
        ("How did Ostrelia's defence minister respond to Varga-Lund?", ["Ostrelia", "Varga-Lund"], None),
        ("Why was Hallgren late?", ["Hallgren"], None),
        # deeds, not words
        ("How did Kessmoor defend the title?", ["Kessmoor"], None),
        ("What did Hallgren give the museum?", ["Hallgren"], None),
        # "she" is the person named before it in the question
        (
            "When Wenlow Yards chief executive Ylva Brandt testified, how did she explain the delay?",
            ["Wenlow Yards", "Ylva Brandt"],
            "Ylva Brandt",
        ),
        # ... not the answer to "who", nor a place
        ("Who spoke after Ylva Brandt, and what did she say about the delay?", ["Ylva Brandt"], None),
        ("At the rally in Marrow Heath, what did he say about the tram?", ["Marrow Heath"], None),
    ],
)
def test_whose_words_a_question_asks_for(question: str, names: list[str], speaker: str | None) -> None:
    found = _speaker(question, [(name, set(name.lower().split())) for name in names])
    assert (found[0] if found else None) == speaker


def _article(text: str) -> Article:
    """An article of one section whose sentences end at each ". " (and the last full stop)."""
    ends = [i + 1 for i, ch in enumerate(text) if ch == "." and (i + 1 == len(text) or text[i + 1] == " ")]
    starts = [0] + [e + 1 for e in ends[:-1]]
    sentences = [Sentence(index=i, section=0, start=a, end=b) for i, (a, b) in enumerate(zip(starts, ends, strict=True))]
    return Article(id="a", title="t", text=text, sentences=sentences)


def test_a_passage_is_read_with_its_article_lead() -> None:
    """The name check reads a passage with the two sentences before it, the one after, and the article's
    first two sentences, where a news story names the event it reports."""
    parts = [
        "The Assembly's digital affairs committee questioned Lindh on Tuesday.",
        "It was his first hearing.",
        "Members asked about the breach.",
        "The alert came on March 4.",
        "Nobody acted.",
        "Solvang pressed him on why.",
        "Lindh said the team was small.",
        "The hearing ended at noon.",
        "A report is due in May.",
    ]
    seen = _neighbourhood(_article(" ".join(parts)), 6)
    assert "Assembly's digital affairs committee" in seen and "first hearing" in seen  # the lead
    assert all(p in seen for p in parts[4:8])  # two before, the sentence, one after
    assert "Members asked" not in seen and "due in May" not in seen


@pytest.mark.parametrize(
    ("text", "speaks"),
    [
        ("Nothing happened first. Rupert Allingham said the offer was final. Then the talks ended.", True),
        ('Nothing happened first. "It is final," said Rupert Allingham, the chief executive. Then the talks ended.', True),
        ("Nothing happened first. Allingham, who ran the operator for a decade, told reporters it was final. End.", True),
        # named after the verb, as the one to be invited, not as the speaker
        ("Nothing happened first. The chair said the committee would invite the operator's chief, Rupert Allingham. End.", False),
        ("Rupert Allingham arrived at noon. He said the offer was final. Then the talks ended.", True),
        ('Rupert Allingham arrived at noon. "The offer is final," the statement went on. Then the talks ended.', True),
        ("Nothing happened first. Rupert Allingham opened the meeting at noon. Then the talks ended.", False),
        # "he said" three sentences after the name: someone else may have spoken since
        ("Rupert Allingham arrived. The chair opened. Questions came. He said the offer was final. End.", False),
    ],
)
def test_who_speaks_in_a_sentence(text: str, speaks: bool) -> None:
    """Whether the second-to-last sentence reports Allingham's words."""
    article = _article(text)
    assert _speaks(article, len(article.sentences) - 2, "allingham") is speaks


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Why did Priya Vandermeer say 'Arbitration could take months'?", "Arbitration could take months"),
        ("What did Mayor Brannock say about swimming pools on 14 August 2024?", "swimming pools"),  # reported that day
        ("What did Mayor Brannock say about swimming pools on 13 August 2024?", "swimming pools"),  # reported the next day
        ("What did Lena Osterhout say about Ferrin's Gap?", "Ferrin’s Gap"),
        # "He said": Allingham is named in the sentence before
        ("What did Allingham say the three-day strike had cost the company?", "2.1 million dollars"),
        # a role, not a name, says it: the Pentagon never speaks, its chief does
        ("What did the Pentagon chief say about borders?", "pre-2014 borders"),
    ],
)
def test_the_same_questions_asked_right_are_answered(chain: NewsragChain, question: str, expected: str) -> None:
    answer = ask(chain, question)
    assert not answer.abstained, answer.answer
    assert any(expected in c.quote for c in answer.citations), [c.quote for c in answer.citations]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Did he say anything about troops?", "forces"),
        ("And what about China?", "China"),
    ],
)
def test_follow_ups_retrieve_as_if_the_subject_were_restated(chain: NewsragChain, question: str, expected: str) -> None:
    answer = ask(chain, question, history=[BORDERS])
    assert answer.rewritten_question and "Hegseth" in answer.rewritten_question
    assert not answer.abstained
    assert any(expected in c.quote and c.title == SEED_TITLE for c in answer.citations), answer.answer
    assert chain.invoke({"question": question}).rewritten_question is None


def test_a_follow_up_searched_beside_its_earlier_turn_quotes_what_it_asks_first(chain: NewsragChain) -> None:
    """The earlier turn finds the story; the sentences are ranked by what the follow-up asks as much as by
    the story (scored against the whole restatement alone, [1] was the strike's announcement)."""
    earlier, question, first = "How long is the rail strike?", "What did the workers get in the end?", "backed the deal"
    answer = ask(chain, question, history=[earlier])
    assert answer.rewritten_question == f"{question} ({earlier})"
    assert answer.citations and first in answer.citations[0].quote, [c.quote for c in answer.citations]


@pytest.mark.parametrize(
    ("question", "earlier", "restated"),
    [
        # "he" is the answer to "what's the name of ...?", not a word of it (was "When did What first notice ...")
        (
            "When did he first notice the mismatch?",
            "What's the name of the researcher who blew the whistle on the LX-204 trial?",
            "When did he first notice the mismatch?"
            " (What's the name of the researcher who blew the whistle on the LX-204 trial?)",
        ),
        # a name with a digit is a thing, not the person "her" stands for (was "What is SCI-417’s team ...")
        (
            "What is her team planning to do next?",
            "How many patients took the SCI-417 spray?",
            "What is her team planning to do next? (How many patients took the SCI-417 spray?)",
        ),
        # an outlet is not who "he" is: searched beside the earlier turn (was "... after Ledger owned up")
        (
            "What happened to the shares after he owned up?",
            "In The Ledger's market report, how did the shares react to the minister's speech?",
            "What happened to the shares after he owned up?"
            " (In The Ledger's market report, how did the shares react to the minister's speech?)",
        ),
        # the one the earlier turn asks about as a speaker is who "she" is
        ("How did she explain it?", "What did Olafsdottir-Wick tell the students?", "How did Olafsdottir-Wick explain it?"),
    ],
)
def test_a_pronoun_is_resolved_only_to_a_person(question: str, earlier: str, restated: str) -> None:
    assert restate(question, [earlier])[0] == restated


def test_a_restated_follow_up_keeps_what_it_asks_itself() -> None:
    earlier = ["How long is the strike?", "When was it called?"]
    assert restate("When was it called?", earlier[:1]) == ("When was it called? (How long is the strike?)", "When was it called?")
    # a third turn nests the restatement; the question itself is still only the last turn
    assert restate("Who called it?", earlier)[1] == "Who called it?"
    # a pronoun resolved is part of the question itself; a reader's own parenthesis is kept
    assert restate("What did he say about troops?", [BORDERS])[1] == "What did Hegseth say about troops?"
    assert restate("What did the Post report (12 March)?", None) == ("What did the Post report (12 March)?",) * 2


def test_a_lead_in_quote_carries_the_words_it_announces(chain: NewsragChain) -> None:
    """The sentence after the best quote opens with a quotation mark: it joins the quote, however little
    it shares with the question (without the rule the quote stopped at the lead-in)."""
    answer = ask(chain, "What did Lena Osterhout say about her orchard?")
    assert answer.citations, answer.answer
    quote = answer.citations[0].quote
    assert "lost about a fifth of its fruit" in quote and "“If they take our water, they take our living,”" in quote


@pytest.mark.parametrize(
    ("question", "words"),
    [
        # without the preference [1] is the ruling's opening sentence, which gives no sum
        ("How much must Kessel Valley pay Port Calder after the arbitration ruling?", "3.8 million dollars"),
        # without it [1] is the chief executive's warning that a strike "would cost ... millions"
        ("How many commuters were affected by the rail walkout, and what did the strike cost the operator?", "58,000"),
    ],
)
def test_a_question_that_asks_for_a_quantity_quotes_one_first(chain: NewsragChain, question: str, words: str) -> None:
    answer = ask(chain, question)
    assert_valid(answer, chain.store)
    assert answer.citations and words in answer.citations[0].quote, answer.answer


def test_a_passage_that_says_the_asked_thing_was_withheld_is_a_reason_to_abstain() -> None:
    from newsrag.rag.quote import Candidate
    from newsrag.rag.records import SentenceRecord

    def pool(*texts: str) -> list[Candidate]:
        out = []
        for i, text in enumerate(texts):
            record = SentenceRecord(f"a:{i}", "a", "a#0", 0, i, 100 * i, 100 * i + len(text), text, np.zeros(4, dtype=np.float32))
            out.append(Candidate(record, 0.5, 0.5, 0.0, 0.5 - i / 100))
        return out

    firm = pool("She said the solvent came from an outside supplier but declined to name the firm, citing legal advice.")
    reason = _withheld("Which firm supplied the solvent?", firm, {})
    assert reason is not None and "declined to name the firm" in reason
    days = pool("The executive said it had not decided how many days of action it would call.")
    assert _withheld("How many days of strike action did the union call?", days, {})
    assert _withheld("Who has been appointed to chair the panel?", pool("The ministry has not yet named the panel's chair."), {})
    # the refusal must be about what is asked, among the passages an answer would quote first
    assert _withheld("How many nurses joined the strike?", days, {}) is None
    far = pool(*["Filler sentence about the strike."] * 4, "It declined to name the firm.")
    assert _withheld("Which firm supplied the solvent?", far, {}) is None
    # not for a question about someone's words, nor one answered yes or no ("did not say whether")
    assert _withheld("What did the minister say about the firm?", firm, {}) is None
    assert _withheld("Did the company name the firm?", firm, {}) is None
    assert _slot("What is the name of the outside support contractor whose login the hackers used?") == {
        "outside",
        "support",
        "contractor",
    }
    assert _slot("Which company was the outside contractor?") == {"company", "outside", "contractor"}
    assert _slot("What was the final tally?") == set()


def test_an_outcome_the_articles_speak_of_only_as_to_come_is_a_reason_to_abstain() -> None:
    from newsrag.rag.quote import Candidate

    def story(*texts: str) -> tuple[list[Candidate], dict[str, Article]]:
        body, sentences = "", []
        for i, text in enumerate(texts):
            start = len(body)
            body += text + " "
            sentences.append(Sentence(index=i, start=start, end=start + len(text), section=0))
        article = Article(id="a", url="https://x.example/a", title="Sirens", text=body.strip(), sentences=sentences)
        record = SentenceRecord("a:0", "a", "a#0", 0, 0, 0, len(texts[0]), texts[0], np.zeros(4, dtype=np.float32))
        return [Candidate(record, 0.5, 0.5, 0.0, 0.5)], {"a": article}

    asked = story("The sirens did not sound until 12.50 a.m.", "The mayor said she would ask for an independent review.")
    reason = _yet_to_come("What did the independent review conclude about the sirens?", *asked)
    assert reason is not None and "would ask for an independent review" in reason
    appeal = story("The regulator fined the company.", "The company has said it will appeal.")
    assert _yet_to_come("Did the company win its appeal?", *appeal)
    # an outcome the articles report, a question about the future, and "that review" (a follow-up's) are not
    done = story("The independent review, which the council said would take a month, found the battery had failed.")
    assert _yet_to_come("What did the independent review conclude?", *done) is None
    assert _yet_to_come("When will the independent review be published?", *asked) is None
    assert _yet_to_come("What did that review conclude?", *asked) is None
    assert _yet_to_come("Why did the sirens fail?", *asked) is None
    # "would be published" and "closes on ..." are still to come; "its final report" is not the interim one
    final = story(
        "The board found in its interim report that the rail had cracked.",
        "Its final report would be published later in the year.",
    )
    assert _yet_to_come("What did the board conclude in its final report?", *final)
    assert _yet_to_come("What did the board conclude in its interim report?", *final) is None
    ballot = story("The union is consulting its members.", "The consultation closes on February 24.")
    assert _yet_to_come("What was the result of the consultation?", *ballot)


def test_a_place_and_its_peoples_name_count_as_the_same_name() -> None:
    from newsrag.rag.support import _with_demonyms

    class Index:
        def known(self, term: str) -> bool:
            return term in {"drevnia", "drevnian", "jordan"}

    assert "drevnian" in _with_demonyms({"drevnia", "duty"}, Index())  # type: ignore[arg-type]
    assert "drevnia" in _with_demonyms({"drevnian", "duty"}, Index())  # type: ignore[arg-type]
    # only where the corpus uses both words: "Jordan" is no people's name of a "Jorda" it never prints
    assert _with_demonyms({"jordan"}, Index()) == {"jordan"}  # type: ignore[arg-type]


def test_the_quantity_preference_reorders_copies_and_only_for_quantity_questions() -> None:
    from newsrag.rag.extractive import QUANTITY_BONUS, prefer_quantities
    from newsrag.rag.quote import Candidate
    from newsrag.rag.records import SentenceRecord

    def cand(i: int, text: str, score: float) -> Candidate:
        vector = np.zeros(4, dtype=np.float32)
        record = SentenceRecord(f"a:{i}", "a", "a#0", 0, i, 100 * i, 100 * i + len(text), text, vector)
        return Candidate(record, score, score, 0.0, score)

    words, sum_ = cand(0, "The panel ruled against the authority.", 0.62), cand(1, "It must pay 3.8 million dollars.", 0.60)
    cands = [words, sum_]
    ranked = prefer_quantities(cands, "How much must the authority pay?")
    assert [c.record.id for c in ranked] == ["a:1", "a:0"]
    assert ranked[0].score == pytest.approx(0.60 + QUANTITY_BONUS) and sum_.score == 0.60  # the evidence keeps its scores
    assert prefer_quantities(cands, "Why did the panel rule against the authority?") is cands
    assert [c.record.id for c in prefer_quantities(cands, "What share of the water was taken?")] == ["a:0", "a:1"]


@pytest.mark.parametrize(
    ("question", "source", "date"),
    [
        # the outlet it names (without the preference: the Harbor Gazette's report)
        ("What did the Tidewater Chronicle report about Brannock and the swimming pools?", "tidewater-chronicle.example", None),
        # the reports of the day it names (without: the strike's announcement of 2025-03-11)
        ("What did the rail union say on April 23?", None, "2025-04-24"),
        # the latest word (without: the announcement)
        ("What is the latest on the rail strike?", None, "2025-04-24"),
    ],
)
def test_what_a_question_pins_down_decides_its_first_quote(
    chain: NewsragChain, question: str, source: str | None, date: str | None
) -> None:
    answer = ask(chain, question)
    assert answer.citations, answer.answer
    first = answer.citations[0]
    assert source is None or first.source == source, answer.answer
    assert date is None or (first.date is not None and first.date.isoformat() == date), answer.answer


def without_quote_sections(chain: NewsragChain) -> NewsragChain:
    """The same chain (store, embedder, ranking) reading no section after the k best."""
    narrow = copy.copy(chain)
    narrow.quote_sections = 0
    return narrow


def test_a_named_outlet_or_day_beyond_the_first_sections_is_searched_too(chain: NewsragChain) -> None:
    """With one section retrieved (and none for quotes only), the named outlet's article and the named
    day's report come from the extra searches, not from the question's own ranking (which retrieves
    other articles first)."""
    chain = without_quote_sections(chain)
    plain = ask(chain, "What did the newspaper report about Brannock and the swimming pools?", k=1)
    assert {c.source for c in plain.citations} == {"harbor-gazette.example"}, plain.answer
    named = ask(chain, "What did the Tidewater Chronicle report about Brannock and the swimming pools?", k=1)
    assert named.citations[0].source == "tidewater-chronicle.example", named.answer
    day = ask(chain, "What did the rail union say on April 23?", k=1)
    assert day.citations[0].date is not None and day.citations[0].date.isoformat() == "2025-04-24", day.answer


def test_sections_after_the_k_best_give_quotes_but_never_decide(chain: NewsragChain) -> None:
    """The sections ranked right after the k best are read for quotes only: with one section retrieved,
    the other outlet's report of the same statement is quoted too; and whether to answer (the relevance,
    the passages the support checks read, their articles) is what it would be without them."""
    narrow = without_quote_sections(chain)
    question = "What did the newspaper report about Brannock and the swimming pools?"
    assert {c.source for c in ask(narrow, question, k=1).citations} == {"harbor-gazette.example"}
    wide = ask(chain, question, k=1)
    assert {"harbor-gazette.example", "tidewater-chronicle.example"} <= {c.source for c in wide.citations}, wide.answer
    assert [r.for_quotes for r in wide.retrieved] == [False] + [True] * chain.quote_sections  # after the k best
    for asked in (
        question,
        "How did Zelensky respond?",
        "What did Rupert Allingham tell union members at the Kessel Valley depot?",
        "Why did Lena Osterhout say 'Arbitration could take months'?",
        "How much was Velmora fined?",
    ):
        for k in (1, 5):
            a, b = (c.gather(ChainInput.parse({"question": asked, "k": k}, 5)) for c in (chain, narrow))
            assert a.for_quotes and not b.for_quotes, asked
            assert a.relevance == pytest.approx(b.relevance, abs=1e-6)  # one matrix product, a few rows longer
            assert [c.record.id for c in a.candidates] == [c.record.id for c in b.candidates]
            assert [c.record.id for c in a.quotable] == [c.record.id for c in b.quotable]
            assert a.decision_articles.keys() == b.articles.keys(), asked
            assert a.unmentioned == b.unmentioned
            assert answerable(a, 0.35) == answerable(b, 0.35), asked


def test_a_question_for_the_latest_word_searches_newer_articles_for_quotes(chain: NewsragChain) -> None:
    """ "now" also searches the articles published after the newest retrieved one, for quotes only."""
    pins = Pins.read("Where do things stand now?", frozenset(), dt.date(2025, 3, 11))
    assert pins.quote_searches(Filters()) == [Filters(since=dt.date(2025, 3, 12))]
    assert pins.searches(Filters()) == []
    assert pins.quote_searches(Filters(sources=("harbor-gazette.example",))) == []
    assert Pins.read("Where do things stand?", frozenset(), dt.date(2025, 3, 11)).quote_searches(Filters()) == []
    narrow = without_quote_sections(chain)
    question = "Where do things stand now in the pay fight between the rail union and Tidewater Regional Rail?"
    ev = narrow.gather(ChainInput.parse({"question": question, "k": 1}, 5))
    first = ev.articles[ev.sections[0].article_id].date
    later = [ev.articles[f.article_id].date for f in ev.sections[1:]]
    assert first is not None and later and all(d is not None and d > first for d in later), (first, later)
    assert {c.record.chunk_id for c in ev.candidates} == {ev.sections[0].chunk_id}
    # the ratified deal first, by the hand scores (the mechanism under test: one section, no quote-only ones)
    hand = copy.copy(narrow)
    hand.adapter = None
    assert ask(hand, question, k=1).citations[0].date == dt.date(2025, 4, 24)
    # with the question adapter both are still quoted; at k 1 it puts the strike's announcement first (a near
    # tie: 0.646 against 0.642), at the default k the deal comes first (docs/benchmarks.md, round 12)
    assert {c.date for c in ask(narrow, question, k=1).citations} >= {dt.date(2025, 3, 11), dt.date(2025, 4, 24)}
    assert chain.adapter is not None and ask(chain, question).citations[0].date == dt.date(2025, 4, 24)
    # the learned scorer ranks by section rank and quotes from its own candidates: no quote-only search
    learned = copy.copy(narrow)
    learned.scorer = load_scorer(SCORER_PATH)
    ev = learned.gather(ChainInput.parse({"question": question, "k": 1}, 5))
    assert len(ev.sections) == 1 and not ev.for_quotes


def test_a_preference_never_turns_an_off_topic_question_into_an_answer(chain: NewsragChain) -> None:
    """ "now" prefers newer articles among relevant passages; it does not make an irrelevant one relevant."""
    for question in ("How many people attended the concert?", "How many people attended the concert now?"):
        assert ask(chain, question).abstained, question


def test_an_outlet_named_with_a_possessive_is_an_outlet() -> None:
    assert spells_outlet("Tidewater Chronicle's", "tidewater-chronicle.example")
    # a broadcaster named by its initials, which its domain spells with or without "news"
    assert spells_outlet("KBC", "kbcnews.example") and spells_outlet("BBC", "bbc.example")
    assert not spells_outlet("KBC", "kbcsport.example") and not spells_outlet("Kbc", "kbcnews.example")
    assert not spells_outlet("UN", "unicef.example")
    assert Pins.read("What was the Tidewater Chronicle’s April report?", frozenset({"tidewater-chronicle.example"}), None).outlets


def test_a_day_named_without_its_year_is_read_in_the_year_of_its_story(chain: NewsragChain) -> None:
    """The articles on the pools are of August 2024: "August 13" is 13 August 2024, which they report
    (read as 13 August of this year, every article would be older, and the question abstained)."""
    answer = ask(chain, "What did Brannock say about the swimming pools on August 13?")
    assert not answer.abstained, answer.answer
    assert dates_in("on August 13", near=dt.date(2024, 8, 15)) == [dt.date(2024, 8, 13)]
    assert dates_in("on December 30", near=dt.date(2025, 1, 5)) == [dt.date(2024, 12, 30)]
    assert dates_in("on 13 August 2023", near=dt.date(2025, 1, 5)) == [dt.date(2023, 8, 13)]
    assert dates_in("on February 29", near=dt.date(2024, 3, 1)) == [dt.date(2024, 2, 29)]  # the one leap year


@pytest.mark.parametrize(
    ("question", "pinned"),
    [
        ("Why did the council settle on May 17 for the tram referendum?", False),
        ("Why was the vote moved to 3 June?", False),
        ("Why was the referendum scheduled for 17 May 2026?", False),
        ("What was the result of the May 17 referendum?", True),
        ("What did the bank decide on May 6?", True),  # when it decided
        ("How was the strike settled on March 3?", True),
    ],
)
def test_a_day_named_as_what_was_chosen_pins_nothing(question: str, pinned: bool) -> None:
    assert bool(Pins.read(question, frozenset(), dt.date(2026, 4, 1)).days) is pinned


def test_a_question_about_a_chosen_day_is_not_refused_for_the_day(chain: NewsragChain) -> None:
    """The rationing articles came out before August 19, the day the order starts: read as the day of an
    event, every relevant article would be a preview of it, and the question refused."""
    answer = ask(chain, "Why did Port Calder pick August 19 to start limiting households to 180 litres a day?")
    assert not answer.abstained, answer.answer
    assert any("from August 19" in c.quote for c in answer.citations), answer.answer


def test_a_users_filters_take_precedence_over_what_the_question_pins() -> None:
    pins = Pins.read("What did the Tidewater Chronicle say on April 23?", frozenset({"tidewater-chronicle.example"}), None)
    assert pins.outlets == {"tidewater-chronicle.example"} and len(pins.days) == 1
    assert len(pins.searches(Filters())) == 2
    assert pins.searches(Filters(sources=("harbor-gazette.example",))) == []


def test_date_filters_apply_to_dense_and_lexical_search(chain: NewsragChain) -> None:
    answer = ask(chain, BORDERS, filters={"since": "2025-03-01"})
    assert all(c.title != SEED_TITLE for c in answer.citations)
    assert all(r.title != SEED_TITLE for r in answer.retrieved)
    until = ask(chain, "What happened to the reservoir?", filters={"until": "2024-12-31"})
    assert until.retrieved and all(c.date and c.date.year == 2024 for c in until.citations)


def test_source_and_article_filters(chain: NewsragChain) -> None:
    answer = ask(chain, "What did the mayor say?", filters={"sources": ["harbor-gazette.example"]})
    assert answer.citations and {c.source for c in answer.citations} == {"harbor-gazette.example"}
    seed_id = next(a.id for a in chain.store.list_articles() if a.title == SEED_TITLE)
    only = ask(chain, "What did the mayor say?", filters={"article_ids": [seed_id]})
    assert all(r.article_id == seed_id for r in only.retrieved)


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"sources": ["nowhere.example"]}, "no stored article is from nowhere.example (stored: 10 articles, from "),
        (
            {"since": "2030-01-01"},
            "no stored article is dated 2030-01-01 or later (stored: 10 articles, dated 2024-08-14 to 2026-05-17)",
        ),
        (
            # the filter that no article meets is named, not the one that some do
            {"sources": ["harbor-gazette.example"], "until": "2020-01-01"},
            "no stored article is dated 2020-01-01 or earlier (stored: 10 articles, dated 2024-08-14 to 2026-05-17)",
        ),
        (
            {"sources": ["sputnikglobe.com"], "since": "2026-01-01"},
            "no stored article is from sputnikglobe.com and dated 2026-01-01 or later, though each filter alone is met by some",
        ),
        (
            {"article_ids": ["zz"]},
            "no stored article is with the id zz (stored: 10 articles, `newsrag articles` lists their ids)",
        ),
    ],
)
def test_filters_that_no_article_meets_are_named_not_blamed_on_the_question(
    chain: NewsragChain, filters: dict[str, object], reason: str
) -> None:
    # The seed article mentions Hegseth and borders: "none of them mentions “Hegseth”" would be false.
    answer = ask(chain, BORDERS, filters=filters)
    assert answer.abstained and not answer.citations and not answer.retrieved
    assert reason in answer.answer and "widen or drop" in answer.answer
    assert "mentions" not in answer.answer


def test_an_empty_store_says_so_and_how_to_fill_it(tmp_path: Path, embedder: Any) -> None:
    from conftest import make_settings

    from newsrag.rag.chain import build_chain

    chain = build_chain(make_settings(tmp_path), embedder=embedder)
    answer = chain.invoke({"question": BORDERS})
    assert answer.abstained and not answer.citations
    assert "no article is stored yet; add some with `newsrag ingest PATH`" in answer.answer
    assert "mentions" not in answer.answer


@pytest.mark.parametrize(
    "bad",
    [
        {"question": ""},
        {"question": "x", "filters": {"since": "2025-13-01"}},
        {"question": "x", "filters": {"colour": "red"}},
        {"question": "x", "history": "not a list"},
        {"question": "x", "k": 0},
    ],
)
def test_bad_input_is_a_clear_error(chain: NewsragChain, bad: dict[str, object]) -> None:
    with pytest.raises(QueryError):
        chain.invoke(bad)


def test_stream_yields_text_as_it_forms_then_the_answer(chain: NewsragChain) -> None:
    items = list(chain.stream({"question": BORDERS}))
    *pieces, final = items
    assert isinstance(final, AnswerChunk) and final.final and final.citations
    assert len(pieces) >= 3 and all(isinstance(p, AnswerChunk) and not p.final and not p.citations for p in pieces)
    total = sum(items[1:], items[0])
    invoked = chain.invoke({"question": BORDERS})
    assert "".join(p.answer for p in items) == total.answer == invoked.answer  # the deltas are the whole text
    assert total.to_answer().model_dump(exclude={"timings_ms"}) == invoked.model_dump(exclude={"timings_ms"})


def test_batch_and_ainvoke_answer_each_question(chain: NewsragChain) -> None:
    questions = [BORDERS, "How much was Velmora fined?", "What is the capital of France?"]
    answers = chain.batch([{"question": q} for q in questions])
    assert [a.question for a in answers] == questions
    assert [a.abstained for a in answers] == [False, False, True]
    for a in answers:
        assert_valid(a, chain.store)
    single = asyncio.run(chain.ainvoke({"question": BORDERS}))
    assert single.citations == answers[0].citations


def test_injected_instructions_never_become_quotes(chain: NewsragChain) -> None:
    answer = ask(chain, "Did the mayor resign in disgrace?")
    for c in answer.citations:
        assert c.quote != "The mayor resigned in disgrace"


def test_new_articles_are_seen_without_rebuilding_the_chain(chain: NewsragChain, tmp_path: Path) -> None:
    path = tmp_path / "late.txt"
    path.write_text(
        " date 2026-01-05 https://quill-post.example/2026/glassworks\n\nGlassworks Reopens in Fenmarsh\n\n"
        "The Fenmarsh glassworks reopened on Monday after a two-year closure, owner Petra Lindqvale said. "
        "Forty glassblowers returned to work.",
        encoding="utf-8",
    )
    before = chain.invoke({"question": "When did the Fenmarsh glassworks reopen?"})
    assert before.abstained
    assert ingest_paths([path], chain.settings, store=chain.store, embedder=chain.embedder).added == 1
    after = ask(chain, "When did the Fenmarsh glassworks reopen?")
    assert any("reopened on Monday" in c.quote for c in after.citations)


@pytest.mark.parametrize(
    ("question", "kind", "passage", "ok"),
    [
        ("How much was Velmora fined?", "money", "the office fined Velmora $27 million", True),
        ("How much must they pay?", "money", "to pay Port Calder 3.8 million dollars", True),
        ("How much will the frigates cost?", "money", "a bill of 3.9 billion kronor", True),
        ("How much was the fine?", "money", "a fine of SEK 40 million", True),
        ("How much did the walkout cost?", "money", "the hospital lost about 46 million marks", True),
        ("How much did the strike cost?", "money", "a bill of 12 billion forint", True),
        ("How much did it cost?", "money", "the 2 real reasons it cost so much", False),
        ("How fast was the train going when it derailed?", "speed", "travelling at 72 km/h", True),
        ("What speed was the ferry doing?", "speed", "at about 40 kilometres an hour", True),
        ("How fast was the train going when it derailed?", "speed", "the train derailed at 5.40 a.m.", False),
        ("How fast did the agency act?", None, "within two days", True),
        ("How far into the talks did they stop?", None, "after two hours", True),
        ("How much did the club pay?", "money", "paid ₹500 crore", True),
        ("How much does it cost?", "money", "58 percent of patients improved", False),
        ("How many commuters were affected?", "number", "about 40,000 commuters", True),
        ("How many fans came?", "number", "the crowd sang all night", False),
        ("How much water may each household use?", None, "180 litres a day", True),
    ],
)
def test_expected_answer_types(question: str, kind: str | None, passage: str, ok: bool) -> None:
    from newsrag.rag.answertype import expected_type, satisfies

    assert expected_type(question) == kind
    assert satisfies(passage, kind) is ok


def test_lexical_scores_are_bm25s_own(chain: NewsragChain) -> None:
    """The lexical index keeps bm25s's postings as arrays and sums them itself (so that a cached index
    loads without bm25s and scipy, and without bm25s's slow np.add.at): its scores are bm25s's
    ``get_scores`` to the last bit, for one word, several, and a repeated one."""
    import bm25s

    index = chain.index()
    sections = list(chain.store.iter_sections())
    assert index.postings is not None and index.ids == [cid for cid, _, _ in sections]
    bm25 = bm25s.BM25()
    bm25.index([tokens(doc) for _, doc, _ in sections], show_progress=False)
    for question in (BORDERS, "Who scored the header in the Coastal Cup final?", "Velmora fined Velmora", "Velmora"):
        terms = [t for t in tokens(question) if index.known(t)]
        mine = index.postings.scores(terms)
        assert terms and mine.dtype == np.float32 and mine.any()
        assert np.array_equal(mine, np.asarray(bm25.get_scores(terms), dtype=np.float32))
