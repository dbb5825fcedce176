"""``riskwire evaluate``: transactions, labels and decision records → metrics table, HTML and JSON.

The heavy imports (scikit-learn, matplotlib) happen inside the command, so the
rest of the ``riskwire`` verbs start as fast as before.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.paths import output_file

if TYPE_CHECKING:
    from evaluation import Evaluation

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, writable=True, path_type=Path)


def _check_compare(_ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    # Checked before the work: a typo must not cost the whole evaluation first.
    for item in value:
        other, sep, path = item.partition("=")
        if not sep or not other or not Path(path).is_file():
            raise click.BadParameter(f"expected NAME=DECISIONS_FILE, got {item!r}", param=param)
    return value


@click.command("evaluate")
@click.option("--transactions", type=_FILE, required=True, help="Transactions (JSON Lines).")
@click.option(
    "--labels", type=_FILE, required=True, help="Labels (JSON Lines); any fraud label makes an event fraud."
)
@click.option(
    "--decisions",
    type=_FILE,
    required=True,
    help="Decision records (JSON Lines) from `riskwire replay` or the scores topic; repeats are ignored.",
)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Cards an analyst team can review per day, for Card Precision@k.",
)
@click.option(
    "--exclude-detected-cards",
    is_flag=True,
    help="For CP@k, drop cards already caught in the top k of an earlier day (the handbook's option).",
)
@click.option(
    "--compare",
    "compare",
    multiple=True,
    metavar="NAME=DECISIONS",
    callback=_check_compare,
    help="Another variant's decision records on the same history (repeatable): per-day AP side by side.",
)
@click.option("--name", default="decisions", show_default=True, help="This run's name in a comparison.")
@click.option(
    "--mark-day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Draw a line at this day in the comparison plot (needs --compare).",
)
@click.option(
    "--compare-png",
    type=_OUT,
    default=None,
    callback=output_file,
    help="Write the comparison plot (PNG) here (needs --compare).",
)
@click.option(
    "--html",
    "html_path",
    type=_OUT,
    callback=output_file,
    help="Write a self-contained HTML report with plots here.",
)
@click.option("--json", "json_path", type=_OUT, callback=output_file, help="Write the metrics as JSON here.")
def evaluate(
    transactions: Path,
    labels: Path,
    decisions: Path,
    k: int,
    exclude_detected_cards: bool,
    compare: tuple[str, ...],
    name: str,
    mark_day: datetime | None,
    compare_png: Path | None,
    html_path: Path | None,
    json_path: Path | None,
) -> None:
    """Measure decisions against labels: AUC, AP, precision/recall at review and block, CP@k per day.

    Flagged at the review threshold means the decision was review or block; at
    the block threshold, block. Days are UTC days of the transaction's
    occurred_at. The table goes to stdout, progress and notes to stderr.
    """
    if not compare and (mark_day is not None or compare_png is not None):
        raise click.UsageError("--mark-day and --compare-png need --compare NAME=DECISIONS")
    from cli.progress import Progress
    from evaluation import evaluate as run_evaluation
    from evaluation import format_table, load_dataset, write_html

    started = time.monotonic()
    total = sum(p.stat().st_size for p in (transactions, labels, decisions))
    with Progress(total, "reading inputs", unit="bytes") as bar:
        data = load_dataset(transactions, labels, decisions, progress=bar.update)
    if len(data) == 0:
        notes = "; ".join(data.stats.notes()) or "the files are empty"
        raise click.ClickException(f"no transaction has a decision, nothing to evaluate ({notes})")
    result = run_evaluation(data, k=k, exclude_detected_cards=exclude_detected_cards)
    click.echo(format_table(result))
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        click.echo(f"metrics → {json_path}", err=True)
    if html_path is not None:
        click.echo("drawing the HTML report ...", err=True)
        write_html(html_path, data, result)
        click.echo(f"report → {html_path}", err=True)
    if compare:
        _compare(
            transactions,
            labels,
            name,
            result,
            compare,
            k,
            exclude_detected_cards,
            None if mark_day is None else f"{mark_day:%Y-%m-%d}",
            compare_png,
        )
    click.echo(f"evaluated {len(data):,} events in {time.monotonic() - started:.1f} s", err=True)


def _compare(
    transactions: Path,
    labels: Path,
    name: str,
    result: Evaluation,
    variants: tuple[str, ...],
    k: int,
    exclude_detected_cards: bool,
    mark_day: str | None,
    png: Path | None,
) -> None:
    from evaluation import build_dataset, read_records
    from evaluation import evaluate as run_evaluation
    from evaluation.compare import comparison_png, format_comparison

    results = {name: result}
    parsed: list[tuple[str, Path]] = []
    for item in variants:
        other, sep, path = item.partition("=")
        if not sep or not other or not Path(path).is_file():
            raise click.BadParameter(f"expected NAME=DECISIONS_FILE, got {item!r}", param_hint="--compare")
        parsed.append((other, Path(path)))
    # The shared history is read once for all the variants.
    txs, labs = list(read_records(transactions)), list(read_records(labels))
    for other, decisions in parsed:
        data = build_dataset(txs, labs, read_records(decisions))
        results[other] = run_evaluation(data, k=k, exclude_detected_cards=exclude_detected_cards)
    click.echo("\naverage precision per day:")
    click.echo(format_comparison(results))
    if png is not None:
        png.write_bytes(comparison_png(results, mark_day=mark_day))
        click.echo(f"comparison plot → {png}", err=True)
