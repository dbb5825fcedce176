"""The decision policy a model is trained with: block above a precision target,
review as many of the next riskiest as the analysts can handle per day.

Risk *levels* stay Radar's (elevated 65, highest 75: ``explain.risk_score``);
*decisions* follow the team's capacity. Fitted on the validation window's
calibrated probabilities (frequencies, with the label delay accounted for):

* ``block_from``: the lowest risk score whose block set (every payment scoring
  at least that) has an expected precision, the mean calibrated probability, of
  at least ``block_precision`` — never below the elevated level;
* ``review_from``: the lowest score such that the payments scoring from it up to
  ``block_from`` number at most ``reviews_per_day`` per day of the window —
  never below 1: a score of 0 is no reason to look.

Stored in the manifest (``decision_policy``), so the model card and
``GET /v1/models/current`` show it, and the worker applies it with the model.

>>> import numpy as np
>>> p = np.array([0.99] * 10 + [0.6] * 4 + [0.3] * 6 + [0.02] * 80)
>>> fit_policy(p, days=2.0, block_precision=0.9, reviews_per_day=5, elevated=65)["review_from"]
30
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["fit_policy"]

Vector = npt.NDArray[np.float64]


def _scores(p: Vector) -> npt.NDArray[np.int64]:
    """``explain.risk_score`` on a whole vector: round(100 p) within 0–100."""
    return np.clip(np.floor(np.asarray(p, dtype=np.float64) * 100 + 0.5), 0, 100).astype(np.int64)


def fit_policy(
    p: Vector, *, days: float, block_precision: float, reviews_per_day: float, elevated: int
) -> dict[str, Any]:
    """The policy for validation probabilities ``p`` spanning ``days`` days."""
    scores = _scores(p)
    p = np.asarray(p, dtype=np.float64)
    days = max(days, 1e-9)
    # Block: the widest set "score >= s" whose mean probability reaches the target.
    block_from = 101
    for s in range(100, elevated - 1, -1):
        chosen = scores >= s
        if chosen.any() and float(p[chosen].mean()) >= block_precision:
            block_from = s
    block_from = max(block_from, elevated)
    # Review: lower the bar while the band below the block holds the capacity.
    review_from = block_from
    for s in range(block_from - 1, 0, -1):
        if np.count_nonzero((scores >= s) & (scores < block_from)) / days > reviews_per_day:
            break
        review_from = s
    if (occupied := scores[(scores >= review_from) & (scores < block_from)]).size:
        # Up to the lowest score the window holds: empty scores below it would, live,
        # let in payments the window never showed the queue could take.
        review_from = int(occupied.min())
    blocked = scores >= block_from
    band = (scores >= review_from) & ~blocked
    return {
        "kind": "review-capacity",
        "block_precision": block_precision,
        "reviews_per_day": reviews_per_day,
        "block_from": int(block_from),
        "review_from": int(review_from),
        # What the window says the policy does: for the model card.
        "expected_blocks_per_day": float(blocked.sum() / days),
        "expected_block_precision": float(p[blocked].mean()) if blocked.any() else None,
        "expected_reviews_per_day": float(band.sum() / days),
        "expected_review_precision": float(p[band].mean()) if band.any() else None,
        "window": "validation",
    }
