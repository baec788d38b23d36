"""The eval package: metrics on hand-made Answers, dataset validation, and ``newsrag eval`` end to end."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_settings

from newsrag.eval.cli import eval_command
from newsrag.eval.datasets import DatasetError, DatasetItem, GoldSpan, ResolvedItem, load_dataset, load_datasets, resolve_gold
from newsrag.eval.metrics import (
    METRICS,
    check_thresholds,
    judge,
    overlaps,
    parse_threshold,
    percentile,
    quote_is_valid,
    retrieval_ranks,
    summarize,
)
from newsrag.eval.noise_floor import Deltas, Perturbed, outcome_deltas
from newsrag.eval.runner import run_eval
from newsrag.rag.embed import HashEmbedder
from newsrag.rag.models import Answer, ArticleSummary, Citation, Retrieved
from newsrag.rag.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
TEXT = "Alpha said the dam will open in May. Beta disagreed. The dam cost 4 million dollars."
TEXTS = {"a1": TEXT, "a2": "Another article about something else entirely."}


def cite(n: int, start: int, end: int, article_id: str = "a1", quote: str | None = None) -> Citation:
    text = TEXTS[article_id]
    return Citation(
        n=n, quote=text[start:end] if quote is None else quote, article_id=article_id, title="T", start=start, end=end, score=0.5
    )


def span(gold: str, article_id: str = "a1", index: int = 0) -> GoldSpan:
    start = TEXTS[article_id].index(gold)
    return GoldSpan(gold=index, article_id=article_id, start=start, end=start + len(gold))


def answer(citations: list[Citation], abstained: bool = False, retrieved: list[str] | None = None) -> Answer:
    return Answer(
        question="q?",
        answer="x",
        abstained=abstained,
        citations=citations,
        retrieved=[Retrieved(article_id=a, similarity=0.5) for a in (retrieved or [])],
    )


def item(gold: list[str], answerable: bool = True, gold_articles: list[str] | None = None) -> DatasetItem:
    return DatasetItem(
        id="t1", question="q?", gold=gold, gold_articles=gold_articles or [], answerable=answerable, source="d.jsonl", line=3
    )


# -- metrics ----------------------------------------------------------------------------------------
def test_overlap_needs_the_same_article_and_intersecting_spans() -> None:
    gold = span("the dam will open in May")  # [11, 35)
    assert overlaps(cite(1, 0, 36), gold)  # contains it
    assert overlaps(cite(1, 20, 25), gold)  # inside it
    assert overlaps(cite(1, 34, 50), gold)  # shares one character
    assert overlaps(cite(1, 0, 12), gold)  # shares one character at the start
    assert not overlaps(cite(1, 35, 50), gold)  # touches the end: [35, 50) and [11, 35) do not intersect
    assert not overlaps(cite(1, 0, 11), gold)  # touches the start
    other = GoldSpan(gold=0, article_id="a2", start=gold.start, end=gold.end)
    assert not overlaps(cite(1, 0, 36), other)  # same offsets, other article


def test_quote_validity_catches_a_span_that_is_off_by_one() -> None:
    assert quote_is_valid(cite(1, 0, 36), TEXTS)
    shifted = cite(1, 1, 37, quote=TEXT[0:36])  # right text, wrong offsets
    assert not quote_is_valid(shifted, TEXTS)
    assert not quote_is_valid(cite(1, 0, 36, quote=TEXT[0:36].upper()), TEXTS)
    assert not quote_is_valid(cite(1, 80, 200, quote=TEXT[80:200]), TEXTS)  # runs past the end
    assert not quote_is_valid(cite(1, 5, 5, quote=""), TEXTS)  # empty
    assert not quote_is_valid(cite(1, 0, 5).model_copy(update={"article_id": "nope"}), TEXTS)

    verdict = judge(
        answer([cite(1, 0, 36), shifted.model_copy(update={"n": 2})]),
        ResolvedItem(item=item(["dam will open"]), gold_article_ids=["a1"], spans=[span("dam will open")]),
        TEXTS,
    )
    assert verdict.invalid_citations == [2] and not verdict.passed
    assert "citation [2] is not the stored text" in verdict.problems[0]


def test_retrieval_is_measured_over_the_k_best_not_the_sections_read_for_quotes() -> None:
    resolved = ResolvedItem(item=item(["dam will open"]), gold_article_ids=["a1"], spans=[span("dam will open")])
    got = answer([cite(1, 0, 36)], retrieved=["a2", "a1"])
    got.retrieved[1].for_quotes = True
    v = judge(got, resolved, TEXTS)
    assert v.k == 1 and v.gold_rank is None and v.retrieval_recall == 0.0
    assert v.answer_hit  # the quote counts wherever it came from


def test_judge_hit_precision_and_recall_on_a_partial_answer() -> None:
    golds = ["dam will open in May", "cost 4 million dollars"]
    resolved = ResolvedItem(item=item(golds), gold_article_ids=["a1"], spans=[span(golds[0]), span(golds[1], index=1)])
    v = judge(answer([cite(1, 0, 36), cite(2, 37, 52)], retrieved=["a2", "a1"]), resolved, TEXTS, latency_ms=12.5)
    assert v.passed and v.answer_hit
    assert v.gold_citations == [1] and v.gold_covered == [True, False]
    assert v.gold_rank == 2 and v.reciprocal_rank == 0.5 and v.retrieval_recall == 1.0

    m = summarize([v])
    assert m.answer_hit == 1.0 and m.citation_precision == 0.5 and m.citation_recall == 0.5 and m.mrr == 0.5
    assert m.quote_validity == 1.0 and m.latency_p50_ms == 12.5
    assert m.abstention is None  # no unanswerable question: not measured, not 0


def test_abstaining_and_answering_are_judged_by_answerability() -> None:
    resolved = ResolvedItem(item=item(["Beta disagreed"]), gold_article_ids=["a1"], spans=[span("Beta disagreed")])
    missed = judge(answer([], abstained=True, retrieved=["a1"]), resolved, TEXTS)
    assert not missed.passed and missed.answer_hit is False and missed.problems == ["abstained on an answerable question"]
    wrong = judge(answer([cite(1, 0, 36)], retrieved=["a1"]), resolved, TEXTS)
    assert not wrong.passed and "none of the 1 citations overlaps" in wrong.problems[0]

    unanswerable = ResolvedItem(item=item([], answerable=False))
    good = judge(answer([], abstained=True), unanswerable, TEXTS)
    bad = judge(answer([cite(1, 0, 36)]), unanswerable, TEXTS)
    assert good.passed and good.answer_hit is None
    assert not bad.passed and "answered an unanswerable question" in bad.problems[0]

    m = summarize([missed, wrong, good, bad])
    assert (m.answerable, m.unanswerable) == (2, 2)
    assert m.answer_hit == 0.0 and m.abstention == 0.5 and m.false_abstention == 0.5
    assert m.citation_precision == 0.0  # citations on unanswerable questions are not in precision
    assert m.citation_recall == 0.0


def test_retrieval_rank_and_recall_over_several_gold_articles() -> None:
    retrieved = [Retrieved(article_id=a, similarity=0.1) for a in ["x", "y", "g1", "g1", "z"]]
    assert retrieval_ranks(retrieved, ["g1", "g2"]) == (3, 0.5)
    assert retrieval_ranks(retrieved, ["g2"]) == (None, 0.0)
    assert retrieval_ranks(retrieved, []) == (None, None)
    resolved = ResolvedItem(item=item(["x"]), gold_article_ids=["g2"], spans=[])
    assert judge(answer([], retrieved=["x"]), resolved, TEXTS).reciprocal_rank == 0.0


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)


def test_thresholds_parse_and_check() -> None:
    assert parse_threshold("answer_hit=0.9") == ("answer_hit", 0.9)
    assert parse_threshold(" abstention = 75% ") == ("abstention", 0.75)
    with pytest.raises(ValueError, match="valid metrics: quote_validity, answer_hit"):
        parse_threshold("accuracy=0.9")
    with pytest.raises(ValueError, match="expected METRIC=VALUE"):
        parse_threshold("answer_hit")
    with pytest.raises(ValueError, match="not a number"):
        parse_threshold("answer_hit=high")
    m = summarize([judge(answer([], abstained=True), ResolvedItem(item=item([], answerable=False)), TEXTS)])
    assert check_thresholds(m, {"abstention": 1.0}) == []
    assert check_thresholds(m, {"abstention": 1.01}) == ["abstention = 1 is below the minimum 1.01"]
    assert "answer_hit was not measured" in check_thresholds(m, {"answer_hit": 0.5})[0]
    assert check_thresholds(m, {}, {"false_abstention": 0.1}) == [
        "false_abstention was not measured (no question it applies to), required max 0.1"
    ]


# -- datasets ---------------------------------------------------------------------------------------
GOOD = {"id": "q1", "question": "When will the dam open?", "gold": ["open in May"], "answerable": True}


def write_lines(path: Path, *lines: Any) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", r"d\.jsonl:2: not valid JSON .*each line must be one complete JSON object"),
        ('["a list"]', r"d\.jsonl:2: expected a JSON object, got list"),
        ({**GOOD, "id": "q2", "golds": ["x"]}, r"d\.jsonl:2: unknown key 'golds'; allowed keys: id, question, history"),
        ({"id": "q2", "question": "?"}, r"d\.jsonl:2: missing 'gold', 'answerable'"),
        ({**GOOD, "id": "q2", "gold": []}, r"d\.jsonl:2: 'q2' is answerable but has no gold strings; add the exact"),
        ({**GOOD, "id": "q2", "answerable": False}, r"d\.jsonl:2: 'q2' is unanswerable but has gold strings"),
        ({**GOOD, "id": "q2", "answerable": "yes"}, r"d\.jsonl:2: 'answerable' of 'q2' must be true or false"),
        ({**GOOD, "id": "q2", "history": "earlier"}, r"d\.jsonl:2: 'history' must be a list of strings"),
        ({**GOOD, "id": "q2", "gold": ["  "]}, r"d\.jsonl:2: 'gold' contains an empty string"),
        ({**GOOD, "question": ""}, r"d\.jsonl:2: 'question' of 'q1' must be a non-empty string"),
        (GOOD, r"d\.jsonl:2: duplicate id 'q1' \(first at .*d\.jsonl:1\); give every question its own id"),
    ],
)
def test_dataset_errors_name_file_line_and_remedy(tmp_path: Path, bad: Any, message: str) -> None:
    path = write_lines(tmp_path / "d.jsonl", GOOD, bad)
    with pytest.raises(DatasetError, match=message):
        load_datasets([path])


def test_dataset_skips_blank_and_comment_lines_and_ids_are_unique_across_files(tmp_path: Path) -> None:
    one = write_lines(tmp_path / "one.jsonl", "# comment", "", GOOD)
    assert [(i.id, i.line, i.history) for i in load_dataset(one)] == [("q1", 3, [])]
    two = write_lines(tmp_path / "two.jsonl", GOOD)
    with pytest.raises(DatasetError, match=r"two\.jsonl:1: duplicate id 'q1' \(first at .*one\.jsonl:3\)"):
        load_datasets([one, two])
    with pytest.raises(DatasetError, match="has no questions"):
        load_dataset(write_lines(tmp_path / "empty.jsonl", "# nothing"))


def test_the_bundled_dataset_is_valid() -> None:
    items = load_dataset(Path(__file__).parent.parent / "eval" / "datasets" / "newsrag_qa.jsonl")
    assert len(items) >= 46 and {i.answerable for i in items} == {True, False}


def test_resolve_gold_matches_file_names_and_ids_and_finds_every_occurrence() -> None:
    texts = {"a1": "May. The dam will open in May.", "a2": "open in May"}
    stored = [
        ArticleSummary(id="a1", title="A", path="/data/one.txt"),
        ArticleSummary(id="a2", title="B", path="/data/feed.jsonl", line=7),
    ]
    by_name = resolve_gold([item(["May"], gold_articles=["one.txt"])], stored, texts)[0]
    assert by_name.gold_article_ids == ["a1"]
    assert [(s.start, s.end) for s in by_name.spans] == [(0, 3), (26, 29)]
    by_id_and_jsonl = resolve_gold([item(["open in May"], gold_articles=["a1", "feed.jsonl"])], stored, texts)[0]
    assert by_id_and_jsonl.gold_article_ids == ["a1", "a2"] and len(by_id_and_jsonl.spans) == 2
    anywhere = resolve_gold([item(["dam will"])], stored, texts)[0]
    assert anywhere.gold_article_ids == ["a1"]  # without gold_articles: where the gold occurs

    with pytest.raises(DatasetError, match=r"d\.jsonl:3: gold article 'two\.txt' of 't1' is not in the store; ingest"):
        resolve_gold([item(["May"], gold_articles=["two.txt"])], stored, texts)
    with pytest.raises(
        DatasetError,
        match=r"d\.jsonl:3: gold string 'the Dam' of 't1' does not occur in its gold "
        r"articles one\.txt; copy it exactly",
    ):
        resolve_gold([item(["the Dam"], gold_articles=["one.txt"])], stored, texts)


# -- newsrag eval end to end ------------------------------------------------------------------------
QUESTIONS = [
    {
        "id": "cup",
        "question": "Who won the Coastal Cup final and by what score?",
        "gold": ["The Port Calder Gulls beat the Kessel Valley Rangers 3-2"],
        "gold_articles": ["coastal_cup_final.txt"],
        "answerable": True,
    },
    {
        "id": "cap",
        "question": "How much water may each Port Calder household use per day under the rationing order?",
        "gold": ["households will be limited to 180 litres per day", "a daily cap of 180 litres per household"],
        "gold_articles": ["port_calder_rationing_tidewater.txt", "port_calder_rationing_gazette.txt"],
        "answerable": True,
    },
    {
        "id": "winner",
        "question": "Who scored the winner, and when?",
        "history": ["Who won the Coastal Cup final?"],
        "gold": ["Imre Salcott headed in the winner in the 88th minute"],
        "answerable": True,
    },
    {"id": "france", "question": "What is the capital of France?", "gold": [], "answerable": False},
]
CORPUS_FILES = ["coastal_cup_final.txt", "port_calder_rationing_tidewater.txt", "port_calder_rationing_gazette.txt"]


@pytest.fixture
def small_eval(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in CORPUS_FILES:
        shutil.copy2(FIXTURES / "corpus" / name, corpus / name)
    return write_lines(tmp_path / "small.jsonl", *QUESTIONS), corpus


def test_eval_cli_writes_reports_and_fails_a_threshold_above_the_result(
    small_eval: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Any
) -> None:
    dataset, corpus = small_eval
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # temporary stores must be cleaned up
    out, md = tmp_path / "report.json", tmp_path / "report.md"
    result = CliRunner().invoke(
        eval_command,
        [
            str(dataset),
            "--corpus",
            str(corpus),
            "--baseline",
            "naive",
            "--json",
            str(out),
            "--report",
            str(md),
            "--min",
            "quote_validity=1.0",
            "--min",
            "answer_hit=1.01",
            "--no-progress",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "answer_hit" in result.output and "is below the minimum 1.01" in result.output
    assert "quote validity" in result.output and "naive" in result.output  # the side-by-side table
    assert list(scratch.iterdir()) == []

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["corpus"] == [str(corpus)] and report["articles"] == 3
    assert set(report["systems"]) == {"newsrag", "naive", "naive@budget"}
    budget = report["systems"]["newsrag"]["metrics"]["quoted_chars"]
    matched = report["systems"]["naive@budget"]
    for q in matched["questions"]:  # the baseline cut to newsrag's mean quote budget, still exact spans
        assert sum(len(c["quote"]) for c in q["answer"]["citations"]) <= round(budget)
    assert matched["metrics"]["quoted_chars"] <= round(budget)
    for system in report["systems"].values():
        assert set(METRICS) <= set(system["metrics"])
        assert system["metrics"]["quote_validity"] == 1.0
        assert [q["item"]["id"] for q in system["questions"]] == [q["id"] for q in QUESTIONS]
        for q in system["questions"]:
            assert {"question", "answer", "abstained", "citations", "retrieved"} <= set(q["answer"])
            assert {"passed", "problems", "answer_hit", "gold_rank"} <= set(q["verdict"])
    ours = {q["item"]["id"]: q for q in report["systems"]["newsrag"]["questions"]}
    assert ours["cup"]["verdict"]["answer_hit"] is True
    assert ours["france"]["answer"]["abstained"] is True and ours["france"]["verdict"]["passed"] is True
    assert ours["winner"]["gold_article_ids"] == [ours["cup"]["gold_article_ids"][0]]
    naive = report["systems"]["naive"]
    assert naive["metrics"]["abstention"] == 0.0 and naive["metrics"]["retrieval_recall"] is not None

    text = md.read_text(encoding="utf-8")
    assert text.startswith("# newsrag eval report")
    assert text.index("## Failures") < text.index("## Metrics")


def test_eval_through_newsrag_uses_the_current_store_and_passes_reachable_thresholds(
    small_eval: tuple[Path, Path], settings: Settings, embedder: Any
) -> None:
    from newsrag.ingest import ingest_paths
    from newsrag.ui.cli import cli

    dataset, corpus = small_eval
    assert ingest_paths([corpus], settings).added == 3
    result = CliRunner().invoke(
        cli,
        [
            "--home",
            str(settings.home),
            "eval",
            str(dataset),
            "--min",
            "quote_validity=1.0",
            "--min",
            "answer_hit=0.5",
            "--min",
            "abstention=1.0",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "answer hit" in result.output and "naive" not in result.output


def test_eval_cli_refuses_unknown_metrics_and_bad_datasets_before_running(tmp_path: Path) -> None:
    dataset = write_lines(tmp_path / "d.jsonl", GOOD)
    result = CliRunner().invoke(eval_command, [str(dataset), "--min", "accuracy=0.9"])
    assert result.exit_code == 2
    assert "unknown metric 'accuracy'; valid metrics: quote_validity, answer_hit" in result.output
    bad = write_lines(tmp_path / "bad.jsonl", GOOD, {"id": "q2"})
    result = CliRunner().invoke(eval_command, [str(bad), "--corpus", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "bad.jsonl:2: missing 'question', 'gold', 'answerable'" in result.output


def test_the_noise_floor_perturbs_each_text_the_same_way_and_counts_moved_answers(
    small_eval: tuple[Path, Path], tmp_path: Path, hash_embedder: HashEmbedder
) -> None:
    """eval/noise_floor.py: a text always gets the same perturbed vector (the store and a question agree),
    about as far from the exact one as sigma says; with no noise the answers are the exact ones."""
    texts = ["What did Hegseth say about borders?", "another text", "What did Hegseth say about borders?"]
    exact = hash_embedder.encode(texts)
    noisy = Perturbed(hash_embedder, seed=1, sigma=0.0065).encode(texts)
    assert np.array_equal(noisy[0], noisy[2]) and not np.array_equal(noisy[0], exact[0])
    assert np.allclose(np.linalg.norm(noisy, axis=1), 1.0, atol=1e-5)
    assert 0.98 < float((noisy * exact).sum(axis=1).mean()) < 0.999
    assert not np.array_equal(Perturbed(hash_embedder, seed=2, sigma=0.0065).encode(texts[:1]), noisy[:1])

    dataset, corpus = small_eval
    settings = make_settings(tmp_path / "home")
    base = run_eval([dataset], [corpus], settings, embedder=hash_embedder)
    same = run_eval([dataset], [corpus], settings, embedder=Perturbed(hash_embedder, seed=1, sigma=0.0))
    assert outcome_deltas(base, same) == Deltas(0, 0, 0, 0, 0)
    # an embedder that knows nothing moves answers, and the deltas count them per kind
    far = run_eval([dataset], [corpus], settings, embedder=Perturbed(hash_embedder, seed=1, sigma=10.0))
    d = outcome_deltas(base, far)
    assert d.moved > 0 and d.moved >= max(abs(d.hit), abs(d.first), abs(d.abstention), abs(d.false_abstention))
