"""The question adapter (``rag/adapter.py``): a map of the question's vector, learned on the dev questions,
that orders an answer's quotes and never changes whether the chain answers."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
from chain_helpers import assert_valid, corpus_chain

from newsrag.eval.datasets import load_dataset, resolve_gold
from newsrag.eval.metrics import judge
from newsrag.eval.runner import _diagnose
from newsrag.eval.train_scorer import HELD_OUT
from newsrag.rag.adapter import ADAPTER_PATH, QuestionAdapter, adapter_for, load_adapter
from newsrag.rag.chain import ChainInput, NewsragChain, build_chain
from newsrag.rag.errors import ConfigError
from newsrag.rag.quote import PARAMS
from newsrag.rag.settings import BUNDLED_MODEL

QA = Path(__file__).resolve().parent.parent / "eval" / "datasets" / "newsrag_qa.jsonl"


def _unit(rng: np.random.Generator, *shape: int) -> np.ndarray:
    x = rng.normal(size=shape).astype(np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_the_shift_gives_the_adapted_order_on_the_plain_scale() -> None:
    rng = np.random.default_rng(0)
    sentences, q, q2 = _unit(rng, 40, 16), _unit(rng, 16), _unit(rng, 16)
    matrix = rng.normal(size=(16, 16)).astype(np.float32)
    adapter = QuestionAdapter("m", matrix, 1.0)
    plain = sentences @ q
    moved = plain + adapter.shifts(q[None], sentences) / PARAMS.sentence
    adapted = sentences @ ((q + matrix @ q) / np.linalg.norm(q + matrix @ q))
    assert list(np.argsort(-moved)) == list(np.argsort(-adapted))
    assert list(np.argsort(-moved)) != list(np.argsort(-plain))  # the map does move them
    assert moved.mean() == pytest.approx(plain.mean(), abs=1e-5) and moved.std() == pytest.approx(plain.std(), abs=1e-5)
    # a share of the sentence weight: half the way
    half = QuestionAdapter("m", matrix, 0.5).shifts(q[None], sentences)
    assert np.allclose(half, adapter.shifts(q[None], sentences) / 2, atol=1e-6)
    # a follow-up and its own turn: the average, as the chain averages their hand scores
    both = adapter.shifts(np.stack([q, q2]), sentences)
    assert np.allclose(both, (adapter.shifts(q[None], sentences) + adapter.shifts(q2[None], sentences)) / 2, atol=1e-6)
    assert adapter.shifts(q[None], sentences[:0]).shape == (0,)


def test_the_shipped_adapter_is_the_bundled_model_s_and_was_trained_on_dev_questions_only() -> None:
    adapter = load_adapter()
    assert adapter.model == BUNDLED_MODEL and adapter.matrix.shape == (384, 384) and 0 < adapter.blend <= 1
    assert float(np.abs(adapter.matrix).max()) > 0
    meta = json.loads(ADAPTER_PATH.read_text(encoding="utf-8"))
    files = [Path(d["file"]).name for d in meta["datasets"].values()]
    assert files and not set(files) & HELD_OUT
    for figures in meta["leave_one_set_out"].values():
        assert figures["questions"] > 0 and 0 <= figures["gold_first_adapted"] <= figures["questions"]
    # the int8 export of the same model shares its vector space; another model does not
    assert adapter_for(BUNDLED_MODEL) is adapter and adapter_for(f"{BUNDLED_MODEL}+onnx-int8.2") is adapter
    assert adapter_for("hash-384") is None and adapter_for("sentence-transformers/all-mpnet-base-v2") is None


def test_an_unreadable_adapter_says_which_file_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "adapter.json"
    missing.write_text(json.dumps({"model": BUNDLED_MODEL, "matrix": "gone.npy", "blend": 1.0}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"adapter.json: cannot read the question adapter .*NEWSRAG_QUESTION_ADAPTER=false"):
        load_adapter(missing)
    flat = tmp_path / "flat.json"
    np.save(tmp_path / "flat.npy", np.zeros((3, 4), dtype=np.float32))
    flat.write_text(json.dumps({"model": BUNDLED_MODEL, "matrix": "flat.npy", "blend": 1.0}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"flat.json: the adapter's matrix has shape \(3, 4\), expected a square one"):
        load_adapter(flat)


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> tuple[NewsragChain, NewsragChain]:
    adapted = corpus_chain(tmp_path_factory.mktemp("adapter"))
    assert adapted.adapter is load_adapter()  # on by default with the bundled model
    plain = copy.copy(adapted)
    plain.adapter = None
    return adapted, plain


def test_the_setting_and_the_learned_scorer_go_without_it(chains: tuple[NewsragChain, NewsragChain]) -> None:
    adapted, _ = chains
    off = adapted.settings.model_copy(update={"question_adapter": False})
    assert build_chain(off, store=adapted.store, embedder=adapted.embedder).adapter is None
    learned = adapted.settings.model_copy(update={"quote_scorer": "learned"})
    assert build_chain(learned, store=adapted.store, embedder=adapted.embedder).adapter is None


@pytest.mark.slow
def test_the_adapter_orders_the_quotes_and_never_changes_whether_the_chain_answers(
    chains: tuple[NewsragChain, NewsragChain],
) -> None:
    adapted, plain = chains
    items = [json.loads(line) for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    reordered = 0
    for item in items:
        inp = {"question": item["question"], "history": item.get("history", [])}
        ev_a = adapted.gather(ChainInput.parse(inp, adapted.settings.top_k))
        ev_p = plain.gather(ChainInput.parse(inp, plain.settings.top_k))
        # the evidence the decision reads is the hand-scored one
        assert [(c.record.id, c.score) for c in ev_a.candidates] == [(c.record.id, c.score) for c in ev_p.candidates]
        assert ev_a.relevance == ev_p.relevance and [c.record.id for c in ev_a.quotable] == [c.record.id for c in ev_p.quotable]
        assert not ev_p.quote_shift and (ev_a.quote_shift or not ev_a.candidates)
        a, p = adapted.invoke(inp), plain.invoke(inp)
        assert_valid(a, adapted.store)
        assert a.abstained == p.abstained, item["question"]
        if a.abstained:
            assert a.answer == p.answer
        reordered += [c.quote for c in a.citations] != [c.quote for c in p.citations]
    assert reordered >= 3, f"the adapter changed the quotes of {reordered} of {len(items)} questions"


@pytest.mark.slow
def test_eval_diagnoses_read_the_quotes_in_the_order_they_were_chosen(chains: tuple[NewsragChain, NewsragChain]) -> None:
    """``newsrag eval``'s "quote choice" diagnosis ranks the gold sentence among the candidates the quotes
    were chosen from, after the adapter's shift: its top score is citation [1]'s, not the decision's best."""
    adapted, _ = chains
    items = load_dataset(QA.with_name("heldout_qa.jsonl"))  # the user's article, never trained on
    summaries = adapted.store.list_articles()
    articles = adapted.store.get_articles([a.id for a in summaries])
    texts = {k: a.text for k, a in articles.items()}
    explained = moved = 0
    for resolved in resolve_gold(items, summaries, texts):
        answer = adapted.invoke({"question": resolved.item.question, "history": resolved.item.history})
        verdict = judge(answer, resolved, texts)
        _diagnose(adapted, resolved, answer, verdict, articles)
        diagnosis = verdict.diagnosis or ""
        if not diagnosis.startswith("quote choice"):
            continue
        explained += 1
        top = re.search(r"top quote candidate score ([\d.]+)", diagnosis)
        assert top and float(top.group(1)) == pytest.approx(answer.citations[0].score, abs=6e-4), diagnosis
        moved += verdict.best_score is not None and abs(float(top.group(1)) - verdict.best_score) > 1e-3
    assert explained >= 1 and moved >= 1, (explained, moved)
