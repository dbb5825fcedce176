"""How complete a payment's fraud label is at the cutoff, given its age.

Chargebacks arrive days to weeks after the payment, so at training time a fraud
that is ``a`` days old has been reported only with probability ``F(a)``, the
share of reported delays up to ``a``. A calibration fitted on labels as known
at the cutoff would understate the risk by that factor — on the simulator's
1–60 day delays, a model trained as of the drift day never reached a risk
score of 50. Calibration therefore counts each known fraud ``1 / F(age)`` times
(inverse probability of having been observed yet).

``F`` is estimated from the frauds known at the cutoff. Their delays are
right-truncated (a delay longer than the payment's age cannot have been seen
yet), so the plain empirical distribution would be too short; the Lynden-Bell
estimator handles that: in reverse time, the hazard at delay ``d`` is the share
of frauds with delay ``d`` among those that could have shown it (delay ≤ d ≤ age),
and ``F(d) = Π_{d' > d} (1 − hazard(d'))``. Delays are binned by whole days.
Beyond the longest observable delay the labels count as complete.

>>> import numpy as np
>>> delays = np.array([1.5, 2.5, 2.5, 3.5])          # no truncation: all ages are long
>>> F = LabelDelay.fit(delays, ages=np.full(4, 30.0))
>>> F.cdf  # shares of delays below 1, 2, 3 and 4 days
(0.0, 0.25, 0.75, 1.0)
>>> F.completeness(np.array([0.5, 1.5, 2.5, 3.5, 10.0])).tolist()
[0.0, 0.125, 0.5, 0.875, 1.0]
>>> F.weights(np.array([2.5])).tolist()  # a known fraud 2.5 days old counts twice
[2.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]

#: Weights are capped at 1 / COMPLETENESS_FLOOR: very young frauds are too uncertain to count more.
COMPLETENESS_FLOOR = 0.1


@dataclass(frozen=True)
class LabelDelay:
    """``F`` on whole days: ``cdf[k]`` = share of delays below ``k + 1`` days."""

    cdf: tuple[float, ...] = ()

    @classmethod
    def fit(cls, delays_days: Vector, ages: Vector) -> LabelDelay:
        """Lynden-Bell estimate from known frauds' delays and ages at the cutoff (days)."""
        delays = np.floor(np.asarray(delays_days, dtype=np.float64)).astype(np.int64)
        ages = np.floor(np.asarray(ages, dtype=np.float64)).astype(np.int64)
        if len(delays) == 0:
            return cls()
        top = int(delays.max())
        cdf = np.ones(top + 1)
        surviving = 1.0
        for k in range(top, -1, -1):  # reverse time: from the longest delay down
            cdf[k] = surviving
            at_risk = int(np.count_nonzero((delays <= k) & (ages >= k)))
            events = int(np.count_nonzero(delays == k))
            if at_risk:
                surviving *= 1.0 - events / at_risk
        return cls(tuple(float(v) for v in cdf))

    def completeness(self, ages_days: Vector) -> Vector:
        """``F(age)``: the share of frauds of that age whose label is already in
        (linear within a day; 1 beyond the longest delay seen)."""
        ages = np.asarray(ages_days, dtype=np.float64)
        if not self.cdf:
            return np.ones(len(ages))
        days = np.arange(len(self.cdf) + 1, dtype=np.float64)
        shares = np.concatenate([[0.0], np.asarray(self.cdf)])
        return np.asarray(np.interp(ages, days, shares, left=0.0, right=1.0), dtype=np.float64)

    def weights(self, ages_days: Vector, floor: float = COMPLETENESS_FLOOR) -> Vector:
        """``1 / F(age)``, capped at ``1 / floor``."""
        return 1.0 / np.maximum(self.completeness(ages_days), floor)

    def to_manifest(self) -> dict[str, Any]:
        return {"method": "lynden-bell", "cdf_by_day": list(self.cdf)}
