"""Calibration: from the batch model's margin to a probability that means what it says.

The booster is trained with the positives up-weighted (fraud is rare), so its
raw ``sigmoid(margin)`` overstates the risk, and by an amount that changes with
every retraining. An isotonic map fitted on the validation window (labels as
known at the cutoff) turns the margin into a frequency: of payments scored
``p``, about ``p`` turn out to be fraud. That is what keeps a risk score of 80
meaning the same across model versions.

The map is stored in the manifest as a monotone piecewise-linear table of
knots (JSON, no pickle) and applied with ``numpy.interp``: exactly what
scikit-learn's ``IsotonicRegression.predict`` computes, clipped at both ends —
plus a thousandth of the plain sigmoid. An isotonic map is a staircase: on its
flat steps (and beyond its end knots) thousands of payments would share one
probability, and ranking by probability (review queues, AUC, precision at k)
would lose the order the model knows. The small sigmoid share keeps the map
strictly increasing while moving no probability by more than 0.001.
Explanations are unaffected: SHAP values explain the raw margin.

>>> import numpy as np
>>> cal = Calibration(margin=(-2.0, 0.0, 2.0), probability=(0.01, 0.2, 0.9))
>>> cal.apply(np.array([-5.0, -1.0, 1.0, 9.0])).round(3).tolist()
[0.01, 0.105, 0.55, 0.9]
>>> Calibration.from_manifest(cal.to_manifest()) == cal
True
>>> Calibration.from_manifest(None).apply(np.array([0.0])).tolist()  # no table: the sigmoid
[0.5]
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

from models.errors import ModelIntegrityError

Vector = npt.NDArray[np.float64]

#: Calibrated probabilities stay inside (0, 1): a score of exactly 0 or 1 would
#: claim a certainty a finite validation window cannot give, and breaks log-loss.
P_FLOOR = 1e-4
#: The sigmoid's share in the calibrated probability: breaks the staircase's ties.
TIE_BREAK = 1e-3


def sigmoid(margin: Vector) -> Vector:
    return 1.0 / (1.0 + np.exp(-margin))


@dataclass(frozen=True)
class Calibration:
    """A monotone map margin → probability; ``margin == ()`` means the plain sigmoid."""

    margin: tuple[float, ...] = ()
    probability: tuple[float, ...] = ()
    method: str = "isotonic"

    def __post_init__(self) -> None:
        m, p = self.margin, self.probability
        if len(m) != len(p):
            raise ModelIntegrityError("calibration: margin and probability knots differ in length")
        if not all(math.isfinite(v) for v in (*m, *p)):
            raise ModelIntegrityError("calibration: knots must be finite")
        if any(b < a for a, b in itertools.pairwise(m)) or any(b < a for a, b in itertools.pairwise(p)):
            raise ModelIntegrityError("calibration: knots must be non-decreasing")
        if p and not (p[0] >= 0.0 and p[-1] <= 1.0):
            raise ModelIntegrityError("calibration: probabilities must lie in [0, 1]")

    @property
    def identity(self) -> bool:
        return not self.margin

    def apply(self, margin: Vector) -> Vector:
        """Calibrated probability of each margin (vectorised; strictly increasing)."""
        if self.identity:
            return sigmoid(margin)
        stairs = np.interp(margin, self.margin, self.probability)
        return (1.0 - TIE_BREAK) * stairs + TIE_BREAK * sigmoid(margin)

    def to_manifest(self) -> dict[str, Any]:
        return {"method": self.method, "margin": list(self.margin), "probability": list(self.probability)}

    @classmethod
    def from_manifest(cls, card: dict[str, Any] | None) -> Calibration:
        """The manifest's table; a manifest without one (older models) gets the sigmoid."""
        if not card:
            return cls(method="sigmoid")
        try:
            return cls(
                margin=tuple(float(v) for v in card["margin"]),
                probability=tuple(float(v) for v in card["probability"]),
                method=str(card.get("method", "isotonic")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"calibration table unreadable: {exc}") from exc


def fit_isotonic(
    margin: Vector, y: npt.NDArray[Any], floor: float = P_FLOOR, fraud_weight: Vector | None = None
) -> Calibration:
    """Fit the isotonic map on (margin, label) pairs, e.g. the validation window.

    ``fraud_weight`` (per row) counts a known fraud that many times — ``1 / F(age)``
    from ``models.label_delay`` when the window's labels are not all in yet: the
    fitted frequency then estimates the fraud rate, not the reported-by-now rate.
    Deterministic: the same pairs give the same knots. Needs both classes.
    """
    y = np.asarray(y, dtype=np.float64)
    if not 0 < y.sum() < len(y):
        raise ValueError("calibration needs both frauds and legitimate payments in its window")
    target = y if fraud_weight is None else y * np.asarray(fraud_weight, dtype=np.float64)
    iso = IsotonicRegression(y_min=floor, y_max=1.0 - floor, out_of_bounds="clip", increasing=True)
    iso.fit(np.asarray(margin, dtype=np.float64), target)
    xs = np.asarray(iso.X_thresholds_, dtype=np.float64)
    ps = np.asarray(iso.y_thresholds_, dtype=np.float64)
    return Calibration(margin=tuple(xs.tolist()), probability=tuple(ps.tolist()))


def reliability_error(p: Vector, y: npt.NDArray[Any], bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between mean ``p`` and the
    fraud rate, over bins of equal count (rare fraud leaves fixed-width bins empty)."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(float(p[chunk].mean()) - float(y[chunk].mean()))
    return total / max(1, len(p))
