"""The HTML report: one self-contained file (PNG plots inlined as base64, no external assets).

A single file can be attached to an issue, mailed or archived next to the
model version it judges and still open years later, which a page with linked
images or scripts cannot promise.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

from .inputs import Dataset
from .metrics import Evaluation
from .report_text import cells, columns, footnotes

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 1em 0; }
th, td { padding: 0.25em 0.7em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
tr.overall td { font-weight: bold; border-top: 2px solid #888; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plots figure { margin: 0; }
.notes { color: #555; font-size: 0.9em; }
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></figure>'


def _table(result: Evaluation) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns(result.k))
    body = ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells(d)) + "</tr>" for d in result.days]
    overall = "".join(f"<td>{html.escape(c)}</td>" for c in cells(result.overall))
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
        f'<tr class="overall">{overall}</tr></tbody></table>'
    )


def render_html(data: Dataset, result: Evaluation, title: str = "riskwire evaluation") -> str:
    """The report as an HTML string: the table, its notes, then the four plots."""
    from . import plots  # matplotlib loads only when a report is drawn, not on `riskwire --help`

    figures = [
        _img(plots.roc_png(data, result), "ROC curve"),
        _img(plots.pr_png(data, result), "precision-recall curve"),
        _img(plots.daily_png(result), "per-day AP, AUC, CP@k and fraud rate"),
        _img(plots.score_png(data), "risk score distribution, fraud vs legit"),
    ]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in footnotes(result))
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    o = result.overall
    summary = (
        f"{o.events:,} events, {o.frauds:,} frauds, {o.cards:,} cards over {len(result.days)} days. "
        "Ground truth: an event is fraud when any fraud label exists for it (retrospective)."
    )
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p>{html.escape(summary)} Generated {made}.</p>",
            _table(result),
            f'<ul class="notes">{notes}</ul>',
            f'<div class="plots">{"".join(figures)}</div>',
            "</body></html>",
            "",
        ]
    )


def write_html(path: Path, data: Dataset, result: Evaluation, title: str = "riskwire evaluation") -> Path:
    """Write the report to ``path`` (creating parent folders) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data, result, title), encoding="utf-8")
    return path
