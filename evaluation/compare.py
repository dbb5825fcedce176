"""Comparing variants on the same history: per-day series side by side.

``riskwire replay`` runs variants over the same events and labels (batch model
alone, batch + online, another model version); ``riskwire evaluate --compare``
lines their per-day metrics up in one table and one plot, so a drift and each
variant's recovery are visible at a glance.

>>> from evaluation import build_dataset, evaluate
>>> txs = [{"event_id": f"e{i}", "occurred_at": "2026-01-01T12:00:00Z", "card_id": f"c{i}"} for i in range(3)]
>>> def run(ps):
...     ds = [{"event_id": f"e{i}", "probability": p, "risk_score": round(100 * p), "decision": "allow"}
...           for i, p in enumerate(ps)]
...     return evaluate(build_dataset(txs, [{"event_id": "e0", "label": "fraud"}], ds), k=1)
>>> print(format_comparison({"a": run([0.9, 0.5, 0.2]), "b": run([0.1, 0.5, 0.2])}))
day         a       b
2026-01-01  1.000   0.333
overall     1.000   0.333
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .metrics import Evaluation, SliceMetrics


def _value(m: SliceMetrics | None, metric: str) -> float | None:
    return None if m is None else getattr(m, metric)


def format_comparison(results: dict[str, Evaluation], metric: str = "average_precision") -> str:
    """One row per day, one column per variant (``-`` where undefined)."""
    names = list(results)
    days = sorted({d.name for r in results.values() for d in r.days})
    by_day = {n: {d.name: d for d in r.days} for n, r in results.items()}
    width = max(6, *(len(n) for n in names))
    rows = [f"{'day':<10}  " + "  ".join(f"{n:<{width}}" for n in names)]

    def cell(v: float | None) -> str:
        return f"{'-' if v is None else f'{v:.3f}':<{width}}"

    for day in days:
        rows.append(f"{day:<10}  " + "  ".join(cell(_value(by_day[n].get(day), metric)) for n in names))
    rows.append(f"{'overall':<10}  " + "  ".join(cell(_value(results[n].overall, metric)) for n in names))
    return "\n".join(line.rstrip() for line in rows)


def comparison_png(
    results: dict[str, Evaluation], metric: str = "average_precision", mark_day: str | None = None
) -> bytes:
    """The per-day ``metric`` of each variant on one axis; ``mark_day`` draws a vertical line."""
    import io

    fig = Figure(figsize=(8.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, result in results.items():
        days = [np.datetime64(d.name) for d in result.days]
        values = [np.nan if (v := _value(d, metric)) is None else v for d in result.days]
        ax.plot(days, values, marker="o", markersize=3, label=name)
    if mark_day is not None:
        day: Any = np.datetime64(mark_day)  # matplotlib's stubs want a float; it takes dates
        ax.axvline(day, color="grey", linestyle=":", label=f"drift ({mark_day})")
    ax.set(ylim=(0, 1.02), ylabel=metric.replace("_", " "), title=f"{metric.replace('_', ' ')} per day (UTC)")
    ax.legend(loc="lower left", fontsize="small")
    ax.tick_params(axis="x", labelrotation=30)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()
