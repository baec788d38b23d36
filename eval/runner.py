"""Run datasets through the chain (and optionally the naive baseline) and collect an :class:`EvalReport`.

``run_eval(datasets, corpus=None, settings=None, baseline=None)``: with ``corpus`` the articles are
ingested into a fresh temporary store (its own NEWSRAG_HOME, removed afterwards), so a dataset and its
articles make a self-contained run; without it the configured store is used as it is.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..rag.errors import NewsragError
from ..rag.models import Answer, Article
from ..rag.settings import Settings, get_settings
from .datasets import DatasetItem, ResolvedItem, load_datasets, resolve_gold
from .metrics import Metrics, Verdict, judge, overlaps, summarize

if TYPE_CHECKING:
    from ..rag.embed import Embedder

__all__ = ["EvalError", "EvalReport", "SystemResult", "QuestionResult", "run_eval", "SYSTEM", "MATCHED"]

log = logging.getLogger(__name__)

#: The name of newsrag's own column in reports.
SYSTEM = "newsrag"
#: The naive baseline at newsrag's quote budget (see :func:`~newsrag.eval.baseline.cut_to_budget`).
MATCHED = "naive@budget"


class EvalError(NewsragError):
    """The evaluation cannot run (empty store, corpus that fails to ingest, unknown baseline)."""


class QuestionResult(BaseModel):
    item: DatasetItem
    gold_article_ids: list[str] = Field(default_factory=list)
    answer: Answer
    verdict: Verdict


class SystemResult(BaseModel):
    name: str
    description: str
    metrics: Metrics
    questions: list[QuestionResult]

    @property
    def failures(self) -> list[QuestionResult]:
        return [q for q in self.questions if not q.verdict.passed]


class EvalReport(BaseModel):
    """Everything one run measured: settings, metrics per system, and every answer with its verdict."""

    created: dt.datetime
    datasets: list[str]
    corpus: list[str] = Field(default_factory=list)
    store: str
    articles: int
    settings: dict[str, Any]
    systems: dict[str, SystemResult]

    @property
    def metrics(self) -> Metrics:
        return self.systems[SYSTEM].metrics


def _newsrag_description(settings: Settings) -> str:
    return (
        f"newsrag chain ({settings.answerer}; top_k={settings.top_k}, max_quotes={settings.max_quotes}, "
        f"abstain_threshold={settings.abstain_threshold})"
    )


def _payload(item: DatasetItem) -> dict[str, Any]:
    return {"question": item.question, "history": list(item.history)}


def _progress(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="question", disable=not enabled, file=sys.stderr, leave=False)


def _diagnose(chain: Any, resolved: ResolvedItem, answer: Answer, verdict: Verdict, articles: dict[str, Article]) -> None:
    """Why a newsrag answer failed, from the chain's own evidence (best candidate score, gold rank)."""
    from ..rag.chain import ChainInput

    ev = chain.gather(ChainInput.parse(_payload(resolved.item), chain.settings.top_k))
    threshold = chain.settings.abstain_threshold
    cands = ev.candidates
    verdict.best_score = round(cands[0].score, 4) if cands else None
    gold_pos = next(
        (i for i, c in enumerate(cands) if any(overlaps(c.record, s) for s in resolved.spans)),
        None,
    )
    if gold_pos is not None:
        verdict.gold_score = round(cands[gold_pos].score, 4)
    if verdict.passed:
        return
    best = f"{verdict.best_score:.3f}" if verdict.best_score is not None else "none (no candidates)"
    gold = (
        f"the best gold sentence is candidate #{gold_pos + 1} of {len(cands)} (score {verdict.gold_score:.3f})"
        if gold_pos is not None
        else f"no gold sentence among the {len(cands)} candidates"
    )
    scorer = getattr(chain, "scorer", None)
    if scorer is not None:  # the learned scorer decides with its question model, and quotes by probability
        from ..rag.ranking import answerable_probability

        p = answerable_probability(ev, scorer)
        bar = f"the question model's probability {p:.3f} {'>=' if p >= scorer.abstain_below else '<'} {scorer.abstain_below}"
    else:
        op = ">=" if verdict.best_score is not None and verdict.best_score >= threshold else "<"
        bar = f"best candidate score {best} {op} threshold {threshold:.2f}"
    if not resolved.item.answerable:
        top = cands[0].record if cands else None
        title = articles[top.article_id].title if top and top.article_id in articles else "?"
        verdict.diagnosis = f"answered: {bar} (from “{title}”)"
        return
    if answer.abstained:
        _, reason = chain.answerable(ev)
        why = f"the chain found {reason}" if reason else bar
        verdict.diagnosis = f"abstained: {why}; {gold}"
        return
    if verdict.gold_rank is None:
        verdict.diagnosis = f"retrieval miss: no gold article among the {verdict.k} retrieved sections; {gold}"
        return
    gold_sections = set()
    for s in resolved.spans:
        article = articles.get(s.article_id)
        section = article.section_of(s.start) if article else None
        if section is not None:
            gold_sections.add((s.article_id, section.index))
    hit_rank = next((i for i, r in enumerate(answer.retrieved, start=1) if (r.article_id, r.section) in gold_sections), None)
    if hit_rank is None:
        verdict.diagnosis = (
            f"section miss: gold article retrieved at rank {verdict.gold_rank}, but not the section "
            f"that holds the gold string; {gold}"
        )
    else:
        note = _quote_note(ev, resolved, threshold, scorer)
        verdict.diagnosis = f"quote choice: gold section retrieved at rank {hit_rank}; {note}"


def _quote_note(ev: Any, resolved: ResolvedItem, threshold: float, scorer: Any = None) -> str:
    """Where the gold sentence stood among the candidates the quotes were chosen from, in the order
    selection read them (``rag.extractive.quote_pool``: after the question adapter, with the sections
    retrieved for quotes only), and whether it fell below the quote floor or lost the selection above it."""
    from ..rag.extractive import quote_floor, quote_params, quote_pool
    from ..rag.quote import quote_cut

    pool = quote_pool(ev, scorer)
    if not pool:
        return "no candidates to quote"
    at = next((i for i, c in enumerate(pool) if any(overlaps(c.record, s) for s in resolved.spans)), None)
    head = f"top quote candidate score {pool[0].score:.3f}"
    if at is None:
        return f"{head}; no gold sentence among the {len(pool)} quote candidates; other sentences were quoted"
    floor, params = quote_floor(pool, threshold, scorer), quote_params(scorer)
    gold = f"the best gold sentence is quote candidate #{at + 1} of {len(pool)} (score {pool[at].score:.3f})"
    cut = quote_cut(pool, floor, params)
    if pool[at].score >= cut:
        return f"{head}; {gold}, eligible but not selected (diversity, per-article, max_quotes or character limits)"
    rule = f"max({floor:.3f}, best - margin {params.margin})"
    return f"{head}; {gold}, below the quote floor {cut:.3f} = {rule}"


def _run_newsrag(
    chain: Any, resolved: Sequence[ResolvedItem], texts: dict[str, str], articles: dict[str, Article], show: bool
) -> list[QuestionResult]:
    diagnose = hasattr(chain, "gather") and getattr(chain, "llm", None) is None
    if resolved:
        chain.invoke(_payload(resolved[0].item))  # warm-up: model, lexical index; not timed
    out: list[QuestionResult] = []
    bar = _progress(len(resolved), show, SYSTEM)
    try:
        for r in resolved:
            t = time.perf_counter()
            try:
                answer = chain.invoke(_payload(r.item))
            except NewsragError as e:
                raise EvalError(f"{r.item.where}: the chain failed on {r.item.id!r}: {e}") from e
            verdict = judge(answer, r, texts, (time.perf_counter() - t) * 1000)
            if diagnose:
                try:
                    _diagnose(chain, r, answer, verdict, articles)
                except (AttributeError, TypeError, ValueError) as e:  # the chain's internals changed
                    log.warning("no diagnosis for %s (chain.gather/answerable changed?): %s", r.item.id, e)
                    diagnose = False
            out.append(QuestionResult(item=r.item, gold_article_ids=r.gold_article_ids, answer=answer, verdict=verdict))
            bar.update(1)
    finally:
        bar.close()
    return out


def _run_naive(naive: Any, resolved: Sequence[ResolvedItem], texts: dict[str, str], show: bool) -> list[QuestionResult]:
    if resolved:
        naive.invoke(resolved[0].item.question)  # warm-up (Chroma opens its index); not timed
    out: list[QuestionResult] = []
    bar = _progress(len(resolved), show, "naive")
    try:
        for r in resolved:
            t = time.perf_counter()
            answer = naive.invoke(r.item.question)
            verdict = judge(answer, r, texts, (time.perf_counter() - t) * 1000)
            if not verdict.passed:
                if not r.item.answerable:
                    verdict.diagnosis = "the naive baseline never abstains"
                elif verdict.gold_rank is None:
                    verdict.diagnosis = f"retrieval miss: no gold article among the {verdict.k} retrieved chunks"
                else:
                    verdict.diagnosis = (
                        f"gold article retrieved at rank {verdict.gold_rank}, but no retrieved chunk contains a gold string"
                    )
            out.append(QuestionResult(item=r.item, gold_article_ids=r.gold_article_ids, answer=answer, verdict=verdict))
            bar.update(1)
    finally:
        bar.close()
    return out


def run_eval(
    datasets: Iterable[str | Path],
    corpus: Sequence[str | Path] | None = None,
    settings: Settings | None = None,
    baseline: str | None = None,
    *,
    progress: bool = False,
    log_line: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
) -> EvalReport:
    """Evaluate newsrag (and the ``baseline``, if named) on the datasets; see docs/eval.md. ``embedder``
    replaces the configured one (the store must be of its model: with ``corpus``, a fresh one is)."""
    from .baseline import BASELINES

    dataset_paths = [str(p) for p in datasets]
    items = load_datasets(dataset_paths)
    if baseline is not None and baseline not in BASELINES:
        raise EvalError(f"unknown baseline {baseline!r}; choose one of: {', '.join(BASELINES)}")
    settings = settings or get_settings()
    say = log_line or log.info
    tmp: str | None = None
    if corpus:
        tmp = tempfile.mkdtemp(prefix="newsrag-eval-")
        # a throwaway store, but the ONNX export stays where the configured home keeps it (made once)
        settings = settings.model_copy(update={"home": Path(tmp), "chroma_url": None, "models_dir": settings.models_path})
    try:
        return _run(items, dataset_paths, [str(c) for c in corpus or []], settings, baseline, progress, say, embedder)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(
    items: list[DatasetItem],
    dataset_paths: list[str],
    corpus: list[str],
    settings: Settings,
    baseline: str | None,
    progress: bool,
    say: Callable[[str], None],
    embedder: Embedder | None = None,
) -> EvalReport:
    from ..ingest import ingest_paths
    from ..rag.chain import build_chain
    from ..rag.embed import make_embedder
    from ..rag.store import make_store

    embedder = embedder or make_embedder(settings)
    store = make_store(settings, model=embedder.name)
    if corpus:
        report = ingest_paths(corpus, settings, progress=progress, store=store, embedder=embedder)
        if not report.ok:
            raise EvalError(
                f"--corpus: {report.failed} input(s) failed to ingest: "
                + "; ".join(report.errors[:5])
                + "; fix or remove them so that the run measures the intended corpus"
            )
        say(f"ingested the corpus into a temporary store: {report.summary()}")
        where = "temporary store built from --corpus"
    else:
        store.check()
        where = settings.chroma_url or str(settings.chroma_path)
    summaries = store.list_articles()
    if not summaries:
        raise EvalError(f"the store at {where} holds no articles; pass --corpus PATH or run `newsrag ingest` first")
    articles = store.get_articles([a.id for a in summaries])
    texts = {aid: a.text for aid, a in articles.items()}
    resolved = resolve_gold(items, summaries, texts)

    chain = build_chain(settings, store=store, embedder=embedder)
    say(f"asking {len(items)} questions over {len(summaries)} articles")
    systems = {SYSTEM: SystemResult(name=SYSTEM, description=_newsrag_description(settings), metrics=summarize([]), questions=[])}
    systems[SYSTEM].questions = _run_newsrag(chain, resolved, texts, articles, progress)
    if baseline == "naive":
        from .baseline import CHUNK_OVERLAP, CHUNK_SIZE, TOP_K, NaiveRag, cut_to_budget

        naive = NaiveRag(list(articles.values()), embedder)
        try:
            questions = _run_naive(naive, resolved, texts, progress)
        finally:
            naive.close()
        ours = summarize([q.verdict for q in systems[SYSTEM].questions])
        budget = int(round(ours.quoted_chars or 0))
        systems["naive"] = SystemResult(
            name="naive",
            questions=questions,
            metrics=summarize([]),
            description=(
                f"LangChain RecursiveCharacterTextSplitter({CHUNK_SIZE}/{CHUNK_OVERLAP}) + Chroma "
                f"top-{TOP_K}, same embedding model, whole chunks cited, never abstains"
            ),
        )
        matched = []
        for q, r in zip(questions, resolved, strict=True):
            cut = cut_to_budget(q.answer, budget, articles)
            verdict = judge(cut, r, texts, q.verdict.latency_ms)
            verdict.diagnosis = q.verdict.diagnosis
            matched.append(q.model_copy(update={"answer": cut, "verdict": verdict}))
        systems[MATCHED] = SystemResult(
            name=MATCHED,
            questions=matched,
            metrics=summarize([]),
            description=(
                f"the naive baseline cut to newsrag's quote budget: its chunks in rank order keep their first "
                f"{budget} characters in all (newsrag's mean quoted characters per answer on these questions)"
            ),
        )
    for system in systems.values():
        system.metrics = summarize([q.verdict for q in system.questions])
    return EvalReport(
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        datasets=dataset_paths,
        corpus=corpus,
        store=where,
        articles=len(summaries),
        settings={
            "embedding_model": settings.embedding_model,
            "answerer": settings.answerer,
            "top_k": settings.top_k,
            "max_quotes": settings.max_quotes,
            "abstain_threshold": settings.abstain_threshold,
            "chunk_chars": settings.chunk_chars,
        },
        systems=systems,
    )
