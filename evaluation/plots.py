"""The report's figures as PNG bytes, drawn with matplotlib's Agg canvas.

Figures are built with the object-oriented API on their own ``FigureCanvasAgg``
rather than through ``pyplot``, so nothing touches matplotlib's global backend
or figure registry: the report renders the same in a headless worker, in tests
and next to an interactive session.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from .inputs import Dataset
from .metrics import Evaluation

_MAX_POINTS = 2000  # curves over millions of thresholds are thinned to this many points
_SIZE = (6.4, 4.0)
_FRAUD, _LEGIT = "#c0392b", "#2e86c1"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _thin(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
    if len(x) <= _MAX_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, _MAX_POINTS).astype(np.int64))
    return x[keep], y[keep]


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def _two_classes(data: Dataset) -> bool:
    return bool(data.fraud.any() and not data.fraud.all())


def roc_png(data: Dataset, result: Evaluation) -> bytes:
    """ROC curve of ``probability`` over all evaluated events, with the chance diagonal."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    if _two_classes(data):
        fpr, tpr, _ = roc_curve(data.fraud, data.probability)
        fpr, tpr = _thin(np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64))
        ax.plot(fpr, tpr, color=_FRAUD, label=f"AUC {result.overall.auc_roc:.3f}")
    else:
        _empty(ax, "one class only: no ROC curve")
    ax.set(
        xlabel="false positive rate", ylabel="true positive rate", title="ROC curve", xlim=(0, 1), ylim=(0, 1)
    )
    ax.legend(loc="lower right")
    return _png(fig)


def pr_png(data: Dataset, result: Evaluation) -> bytes:
    """Precision-recall curve, with the fraud rate as the no-skill baseline."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    if _two_classes(data):
        precision, recall, _ = precision_recall_curve(data.fraud, data.probability)
        recall, precision = _thin(
            np.asarray(recall, dtype=np.float64), np.asarray(precision, dtype=np.float64)
        )
        ax.plot(recall, precision, color=_FRAUD, label=f"AP {result.overall.average_precision:.3f}")
        rate = float(data.fraud.mean())
        ax.axhline(rate, linestyle=":", color="grey", label=f"fraud rate {rate:.2%}")
        ax.legend(loc="upper right")
    else:
        _empty(ax, "one class only: no precision-recall curve")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.02))
    return _png(fig)


def daily_png(result: Evaluation) -> bytes:
    """AP, AUC and CP@k per day (left axis) with the fraud rate (right axis): drift shows here."""
    fig = Figure(figsize=(8.0, 4.6), layout="constrained")
    ax = fig.add_subplot()
    days = [np.datetime64(d.name) for d in result.days]

    def series(values: list[float | None]) -> list[float]:
        return [np.nan if v is None else v for v in values]

    ax.plot(days, series([d.average_precision for d in result.days]), marker="o", label="average precision")
    ax.plot(days, series([d.auc_roc for d in result.days]), marker=".", linestyle="--", label="AUC ROC")
    cps = series([d.card_precision_at_k for d in result.days])
    ax.plot(days, cps, marker="s", label=f"CP@{result.k}")
    ax.set(ylim=(0, 1.02), ylabel="metric", title="Per day (UTC)")
    rate_ax = ax.twinx()
    rates = series([d.fraud_rate for d in result.days])
    rate_ax.plot(days, [r * 100 for r in rates], color="grey", linestyle=":", marker="x", label="fraud rate")
    rate_ax.set_ylabel("fraud rate (%)")
    rate_ax.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + rate_ax.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize="small")
    ax.tick_params(axis="x", labelrotation=30)
    return _png(fig)


def score_png(data: Dataset) -> bytes:
    """Risk-score histograms of fraud and legitimate events, each normalised (fraud is rare)."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    bins = list(range(0, 102, 2))
    for mask, name, colour in ((data.fraud, "fraud", _FRAUD), (~data.fraud, "legit", _LEGIT)):
        scores = data.risk_score[mask]
        if len(scores):
            ax.hist(
                scores,
                bins=bins,
                density=True,
                histtype="step",
                color=colour,
                label=f"{name} ({len(scores):,})",
            )
    if not len(data):
        _empty(ax, "no events")
    else:
        ax.legend(loc="upper center")
    ax.set(
        xlabel="risk score",
        ylabel="share of events (density)",
        title="Risk score: fraud vs legit",
        xlim=(0, 100),
    )
    return _png(fig)
