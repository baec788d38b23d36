"""``newsrag eval``: run datasets, print the metrics table, write JSON / Markdown reports, gate on thresholds.

Heavy imports (the chain, Chroma, the model) happen inside the command, so ``newsrag --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .metrics import METRICS, parse_threshold

if TYPE_CHECKING:
    from .runner import EvalReport, QuestionResult

__all__ = ["eval_command", "metrics_table", "markdown_report"]

_RATES = {
    "quote_validity",
    "answer_hit",
    "first_citation_hit",
    "citation_precision",
    "citation_recall",
    "retrieval_recall",
    "abstention",
    "false_abstention",
}


def _thresholds(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for text in values:
        try:
            name, value = parse_threshold(text)
        except ValueError as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from None
        out[name] = value
    return out


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name in _RATES:
        return f"{value * 100:.1f}%"
    if name == "mrr":
        return f"{value:.3f}"
    if name == "quoted_chars":
        return f"{value:.0f}"
    return f"{value:.1f}"


def _rows(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    systems = list(report.systems.values())
    header = ["metric", *(s.name for s in systems)]
    rows = [
        [
            "questions (answerable / unanswerable)",
            *(f"{s.metrics.questions} ({s.metrics.answerable} / {s.metrics.unanswerable})" for s in systems),
        ],
        ["citations", *(str(s.metrics.citations) for s in systems)],
    ]
    for name, label in METRICS.items():
        if name == "retrieval_recall":
            label = f"retrieval recall@k (k = {' / '.join(str(s.metrics.k) for s in systems)})"
        rows.append([label, *(_fmt(name, s.metrics.value(name)) for s in systems)])
    return header, rows


def metrics_table(report: EvalReport) -> str:
    """The metrics side by side as aligned plain text."""
    header, rows = _rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for j, row in enumerate([header, *rows]):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(report: EvalReport) -> list[str]:
    header, rows = _rows(report)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _failure(q: QuestionResult, titles: dict[str, str]) -> list[str]:
    v, item, a = q.verdict, q.item, q.answer
    gold_ids = set(q.gold_article_ids)
    lines = [f"### {item.id}: {item.question}", ""]
    if item.history:
        lines.append("- history: " + " → ".join(f"“{h}”" for h in item.history))
    lines.append(f"- from: `{item.where}`")
    if item.answerable:
        lines.append(
            "- gold: "
            + "; ".join(
                f"“{g}”{'' if covered else ' (not cited)'}" for g, covered in zip(item.gold, v.gold_covered, strict=False)
            )
        )
        lines.append("- gold articles: " + ", ".join(f"{titles.get(i, i)} (`{i}`)" for i in q.gold_article_ids))
    else:
        lines.append("- unanswerable: the articles do not answer it")
    lines.append("- **" + "; ".join(v.problems) + "**")
    if v.diagnosis:
        lines.append(f"- why: {v.diagnosis}")
    scores = [
        f"best candidate {v.best_score:.3f}" if v.best_score is not None else "",
        f"best gold candidate {v.gold_score:.3f}" if v.gold_score is not None else "",
    ]
    if any(scores):
        lines.append("- scores: " + ", ".join(s for s in scores if s))
    lines.append(
        "- retrieved: "
        + (
            "; ".join(
                f"{i}. {'**gold** ' if r.article_id in gold_ids else ''}{r.title}"
                + (f" / {r.headline}" if r.headline else "")
                + f" ({r.similarity:.3f})"
                for i, r in enumerate(a.retrieved, start=1)
            )
            or "nothing"
        )
    )
    for c in a.citations:
        mark = " **overlaps gold**" if c.n in v.gold_citations else ""
        mark += " **INVALID QUOTE**" if c.n in v.invalid_citations else ""
        quote = c.quote if len(c.quote) <= 300 else c.quote[:300] + "…"
        lines.append(f"- [{c.n}] {c.title} [{c.start}, {c.end}) score {c.score:.3f}{mark}: “{_cell(quote)}”")
    if a.abstained:
        lines.append(f"- answer: {a.answer}")
    lines.append("")
    return lines


def _by_tag(report: EvalReport) -> list[str]:
    """Pass rate per question tag and system: answer hit for answerable, abstention for unanswerable."""
    tags = sorted({t for q in next(iter(report.systems.values())).questions for t in q.item.tags})
    if not tags:
        return []
    systems = list(report.systems.values())
    lines = [
        "## By question tag (questions passed)",
        "",
        "| tag | questions | " + " | ".join(s.name for s in systems) + " |",
        "|---|---:|" + "---:|" * len(systems),
    ]
    for tag in tags:
        cells = []
        for s in systems:
            mine = [q for q in s.questions if tag in q.item.tags]
            cells.append(f"{sum(q.verdict.passed for q in mine)}")
        n = sum(tag in q.item.tags for q in systems[0].questions)
        lines.append(f"| {tag} | {n} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def markdown_report(report: EvalReport) -> str:
    """Failures first (with the evidence to see why), then the metrics, then every question."""
    from .runner import SYSTEM

    ours = report.systems[SYSTEM]
    titles = {c.article_id: c.title for s in report.systems.values() for q in s.questions for c in q.answer.citations}
    titles |= {r.article_id: r.title for s in report.systems.values() for q in s.questions for r in q.answer.retrieved}
    lines = [
        "# newsrag eval report",
        "",
        f"{report.created:%Y-%m-%d %H:%M} UTC · datasets: {', '.join(f'`{d}`' for d in report.datasets)} · "
        f"corpus: {', '.join(f'`{c}`' for c in report.corpus) or f'the store at `{report.store}`'} · "
        f"{report.articles} articles · " + ", ".join(f"{k}={v}" for k, v in report.settings.items()),
        "",
        f"## Failures: {len(ours.failures)} of {len(ours.questions)} ({SYSTEM})",
        "",
    ]
    for q in ours.failures:
        lines += _failure(q, titles)
    if not ours.failures:
        lines += ["None.", ""]
    lines += ["## Metrics", "", *_md_table(report), ""]
    lines += [f"- **{s.name}**: {s.description}" for s in report.systems.values()]
    lines.append("")
    lines += _by_tag(report)
    for s in report.systems.values():
        if s.name == SYSTEM:
            continue
        lines += [f"## Failures of the {s.name} baseline: {len(s.failures)} of {len(s.questions)}", ""]
        lines += [
            f"- {q.item.id}: {'; '.join(q.verdict.problems)}" + (f" ({q.verdict.diagnosis})" if q.verdict.diagnosis else "")
            for q in s.failures
        ]
        lines.append("")
    lines += [
        f"## All questions ({SYSTEM})",
        "",
        "| id | pass | answerable | abstained | hit | gold rank | best score | latency ms | question |",
        "|---|---|---|---|---|---:|---:|---:|---|",
    ]
    for q in ours.questions:
        v = q.verdict
        lines.append(
            f"| {v.id} | {'✓' if v.passed else '✗'} | {'yes' if v.answerable else 'no'} | "
            f"{'yes' if v.abstained else 'no'} | {'' if v.answer_hit is None else ('yes' if v.answer_hit else 'no')} | "
            f"{v.gold_rank or ''} | {'' if v.best_score is None else f'{v.best_score:.3f}'} | {v.latency_ms:.0f} | "
            f"{_cell(q.item.question)} |"
        )
    return "\n".join(lines) + "\n"


@click.command("eval", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("datasets", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--corpus", multiple=True, metavar="PATH", help="Ingest these files/folders into a fresh temporary store first (repeatable)."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full report (every answer and verdict) as JSON.",
)
@click.option(
    "--report", "md_out", type=click.Path(dir_okay=False, path_type=Path), help="Write a Markdown report, failures first."
)
@click.option(
    "--min",
    "minimums",
    multiple=True,
    metavar="METRIC=VALUE",
    callback=_thresholds,
    help=f"Exit non-zero when newsrag's METRIC is below VALUE (repeatable). Metrics: {', '.join(METRICS)}.",
)
@click.option(
    "--max",
    "maximums",
    multiple=True,
    metavar="METRIC=VALUE",
    callback=_thresholds,
    help="Exit non-zero when newsrag's METRIC is above VALUE (e.g. false_abstention, latency_p95_ms).",
)
@click.option("--baseline", type=click.Choice(["naive"]), help="Also run a plain LangChain RAG, side by side.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on in a terminal).")
@click.pass_context
def eval_command(
    ctx: click.Context,
    datasets: tuple[Path, ...],
    corpus: tuple[str, ...],
    json_out: Path | None,
    md_out: Path | None,
    minimums: dict[str, float],
    maximums: dict[str, float],
    baseline: str | None,
    progress: bool | None,
) -> None:
    """Evaluate answers against DATASET files (JSON Lines; see docs/eval.md)."""
    import sys

    from ..rag.errors import NewsragError
    from ..rag.settings import Settings
    from .metrics import check_thresholds
    from .runner import SYSTEM, run_eval

    base: dict[str, Any] = dict(ctx.obj or {})
    try:
        settings = Settings(**base)
    except ValueError as e:
        raise click.ClickException(f"bad setting: {e}") from e
    show = sys.stderr.isatty() and settings.progress if progress is None else progress
    try:
        report = run_eval(
            list(datasets),
            corpus=list(corpus) or None,
            settings=settings,
            baseline=baseline,
            progress=bool(show),
            log_line=lambda line: click.echo(line, err=True),
        )
    except NewsragError as e:
        raise click.ClickException(str(e)) from e
    click.echo(metrics_table(report))
    failures = report.systems[SYSTEM].failures
    if failures:
        click.echo(f"\n{SYSTEM} failures ({len(failures)} of {len(report.systems[SYSTEM].questions)}):")
        for q in failures:
            click.echo(
                f"  {q.item.id}: {'; '.join(q.verdict.problems)}" + (f" [{q.verdict.diagnosis}]" if q.verdict.diagnosis else "")
            )
    if json_out:
        json_out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_out}", err=True)
    if md_out:
        md_out.write_text(markdown_report(report), encoding="utf-8")
        click.echo(f"wrote {md_out}", err=True)
    missed = check_thresholds(report.metrics, minimums, maximums)
    for line in missed:
        click.echo(f"FAILED: {line}", err=True)
    if missed:
        ctx.exit(1)
