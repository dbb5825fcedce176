"""Quality of decisions, overall and per UTC day, the way fraud teams read it.

Threshold metrics use the engine's own ``decision`` rather than a cut on
``risk_score``: an event counts as flagged at the review threshold when it was
sent to review or blocked, and at the block threshold when it was blocked. That
measures what the engine actually did, rules included, and needs no second copy
of the thresholds that could drift from the worker's settings.

Ranking metrics (AUC ROC, average precision, Card Precision@k) use the blended
``probability``. Any of them is ``None`` where it is undefined (a slice with one
class only, nothing flagged) instead of a number that would look like a result.

Card Precision@k follows Le Borgne et al., *Reproducible Machine Learning for
Credit Card Fraud Detection – Practical Handbook*: per day, cards are ranked by
their highest probability that day, and CP@k is the share of the top k cards
with at least one fraudulent transaction that day, divided by k even when fewer
than k cards transacted (the day is then marked ``short_of_k``). Ties are broken
by card id so the figure is reproducible. The overall CP@k is the mean of the
daily values, as in the handbook. The handbook's helper can also drop cards
already caught on earlier days (an analyst would have blocked them);
``exclude_detected_cards=True`` does that, the default does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score

from .inputs import Dataset, InputStats

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SliceMetrics:
    """Metrics of one slice of events: a UTC day (``name`` = ISO date) or ``overall``."""

    name: str
    events: int
    frauds: int
    cards: int
    compromised_cards: int
    flagged_review: int
    flagged_block: int
    auc_roc: float | None
    average_precision: float | None
    precision_review: float | None
    recall_review: float | None
    precision_block: float | None
    recall_block: float | None
    card_precision_at_k: float | None
    short_of_k: bool

    @property
    def fraud_rate(self) -> float | None:
        return self.frauds / self.events if self.events else None


@dataclass(frozen=True)
class Evaluation:
    """The whole result: the overall row, one row per day, and what the inputs held."""

    k: int
    exclude_detected_cards: bool
    overall: SliceMetrics
    days: tuple[SliceMetrics, ...]
    stats: InputStats

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``None`` for undefined metrics), for ``--json``."""

        def row(m: SliceMetrics) -> dict[str, Any]:
            return {**asdict(m), "fraud_rate": m.fraud_rate}

        return {
            "k": self.k,
            "exclude_detected_cards": self.exclude_detected_cards,
            "flagged_review_means": "decision is review or block",
            "flagged_block_means": "decision is block",
            "overall": row(self.overall),
            "days": [row(d) for d in self.days],
            "inputs": asdict(self.stats),
        }


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _ranking(y: Bools, p: npt.NDArray[np.float64]) -> tuple[float | None, float | None]:
    """AUC ROC and average precision, or (None, None) when only one class is present."""
    if y.all() or not y.any():
        return None, None
    return float(roc_auc_score(y, p)), float(average_precision_score(y, p))


def _top_cards(
    cards: npt.NDArray[Any], scores: npt.NDArray[np.float64], fraud: Bools, k: int
) -> tuple[npt.NDArray[Any], Bools, int]:
    """The top-k cards by highest score (ties: smaller card first), whether each had fraud, card count."""
    uniq, inv = np.unique(cards, return_inverse=True)
    inv = inv.reshape(-1)
    best = np.full(len(uniq), -np.inf)
    np.maximum.at(best, inv, scores)
    hit = np.zeros(len(uniq), dtype=np.bool_)
    np.logical_or.at(hit, inv, fraud)
    order = np.lexsort((np.arange(len(uniq)), -best))[:k]
    return uniq[order], hit[order], len(uniq)


def card_precision_at_k(
    cards: Sequence[str], scores: Sequence[float], fraud: Sequence[bool], k: int
) -> float:
    """Card Precision@k of one day's transactions (divides by k even when fewer cards exist).

    Card a peaks at 0.9 and had a fraud, b peaks at 0.8 without one, c had a
    fraud but ranks third:

    >>> card_precision_at_k(["a", "a", "b", "c"], [0.9, 0.1, 0.8, 0.3], [False, True, False, True], k=2)
    0.5
    >>> card_precision_at_k(["a", "a", "b", "c"], [0.9, 0.1, 0.8, 0.3], [False, True, False, True], k=4)
    0.5
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if not cards:
        return 0.0
    _, hits, _ = _top_cards(
        np.asarray(cards, dtype=str),
        np.asarray(scores, dtype=np.float64),
        np.asarray(fraud, dtype=np.bool_),
        k,
    )
    return int(hits.sum()) / k


def _slice(data: Dataset, rows: npt.NDArray[np.intp], name: str) -> SliceMetrics:
    """Every metric of a slice except Card Precision@k, which needs the days in order."""
    y = data.fraud[rows]
    review, block = data.flagged_review[rows], data.flagged_block[rows]
    frauds = int(y.sum())
    auc, ap = _ranking(y, data.probability[rows])
    cards = data.card_codes[rows]
    return SliceMetrics(
        name=name,
        events=len(rows),
        frauds=frauds,
        cards=len(np.unique(cards)),
        compromised_cards=len(np.unique(cards[y])),
        flagged_review=int(review.sum()),
        flagged_block=int(block.sum()),
        auc_roc=auc,
        average_precision=ap,
        precision_review=_ratio(int((review & y).sum()), int(review.sum())),
        recall_review=_ratio(int((review & y).sum()), frauds),
        precision_block=_ratio(int((block & y).sum()), int(block.sum())),
        recall_block=_ratio(int((block & y).sum()), frauds),
        card_precision_at_k=None,
        short_of_k=False,
    )


def evaluate(data: Dataset, k: int = 100, exclude_detected_cards: bool = False) -> Evaluation:
    """Compute the overall and per-day metrics of a joined dataset (see the module docstring)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    order = np.argsort(data.days, kind="stable")
    unique_days, starts = np.unique(data.days[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    detected = np.zeros(len(data.card_ids), dtype=np.bool_)
    days: list[SliceMetrics] = []
    for i, day in enumerate(unique_days):
        rows = order[bounds[i] : bounds[i + 1]]
        metrics = _slice(data, rows, str(day))
        eligible = rows[~detected[data.card_codes[rows]]]
        top, hits, n_cards = _top_cards(
            data.card_codes[eligible], data.probability[eligible], data.fraud[eligible], k
        )
        if exclude_detected_cards:
            detected[top[hits]] = True
        days.append(replace(metrics, card_precision_at_k=int(hits.sum()) / k, short_of_k=n_cards < k))
    overall = _slice(data, np.arange(len(data), dtype=np.intp), "overall")
    daily = [d.card_precision_at_k for d in days if d.card_precision_at_k is not None]
    overall = replace(
        overall,
        card_precision_at_k=float(np.mean(daily)) if daily else None,
        short_of_k=any(d.short_of_k for d in days),
    )
    return Evaluation(
        k=k,
        exclude_detected_cards=exclude_detected_cards,
        overall=overall,
        days=tuple(days),
        stats=data.stats,
    )
