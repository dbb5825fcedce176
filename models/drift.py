"""Drift: ADWIN on the batch model's errors, and PSI of live traffic against training.

``ErrorDrift`` feeds ``river.drift.ADWIN`` with the batch model's error on each
labelled event: its log-loss divided by 5, capped at 1 (``batch_error``; ADWIN's
bound wants values in [0, 1]). Log-loss rather than ``|y - p|`` because a fraud
scored 1 % should count far more than one scored 30 %: on synthetic concept
flips it fired sooner, with no false alarm on stable streams. A detection means
the batch model's recent errors differ from its earlier ones: the world moved,
and the blend leans on the online model.

ADWIN lives in River's Rust core and has no JSON form, so the wrapper keeps the
errors seen since the detector last started (at most ``max_window``) and its
state *is* that list: restoring replays it into a fresh ADWIN, which is the
same detector, since ADWIN is deterministic and restarts empty after each
detection. When the list is full the detector restarts on its newer half, the
same way before and after a restore.

``PsiMonitor`` counts each feature and the score into the reference bins the
manifest stores (``models.reference``) with exponential decay (a half-life in
events), so memory is a few numbers per feature whatever the traffic.

>>> import numpy as np
>>> detector = ErrorDrift(delta=0.002)
>>> fired = [detector.update(e) for e in [0.05] * 600 + [0.9] * 200]
>>> 600 < fired.index(True) < 700
True
>>> ErrorDrift.from_state(detector.to_state()).to_state() == detector.to_state()
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from river import drift as river_drift

from features.catalogue import FEATURE_NAMES
from models.errors import ModelIntegrityError
from models.reference import bin_counts, psi

Matrix = npt.NDArray[np.float64]

#: River ships no type hints; its ADWIN is used through this untyped name.
ADWIN: Any = river_drift.ADWIN


ERROR_SCALE = 5.0


def batch_error(y: int, p: float) -> float:
    """Log-loss / 5, capped at 1: a fraud scored 1 % costs 0.92, a legit one scored 1 % 0.002."""
    p = min(1.0 - 1e-6, max(1e-6, p))
    return min(1.0, -math.log(p if y else 1.0 - p) / ERROR_SCALE)


@dataclass(frozen=True)
class DriftEvent:
    """A detector fired: which one, when (labels learned, event time if known), and why."""

    detector: str
    learned: int
    at_ms: int | None = None
    details: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"detector": self.detector, "learned": self.learned, "at_ms": self.at_ms, **self.details}


class ErrorDrift:
    """ADWIN over an error stream in [0, 1], with a JSON-safe state."""

    name = "adwin_batch_error"

    def __init__(self, delta: float = 0.002, max_window: int = 2000) -> None:
        if max_window < 100:
            raise ValueError("max_window must be at least 100")
        self.delta = delta
        self.max_window = max_window
        self._values: list[float] = []
        self._adwin = ADWIN(delta=delta)
        self.last_detection: dict[str, float] = {}

    @property
    def width(self) -> int:
        return int(self._adwin.width)

    @property
    def estimation(self) -> float:
        """Mean error over ADWIN's current window."""
        return float(self._adwin.estimation)

    def update(self, error: float) -> bool:
        """Add one error; True when it completes a detection."""
        error = min(1.0, max(0.0, float(error)))
        before = self.estimation
        self._adwin.update(error)
        if self._adwin.drift_detected:
            self._values = []  # ADWIN restarts empty on its next update
            self.last_detection = {"error_before": before, "error_recent": self.estimation}
            return True
        self._values.append(error)
        if len(self._values) > self.max_window:
            self._values = self._values[len(self._values) // 2 :]
            self._adwin = self._replay(self._values)
        return False

    def _replay(self, values: list[float]) -> ADWIN:
        adwin = ADWIN(delta=self.delta)
        last = -1
        for i, v in enumerate(values):
            adwin.update(v)
            if adwin.drift_detected:
                last = i
        if last >= 0:  # keep the invariant: the state is the values since the last start
            del values[: last + 1]
            adwin = ADWIN(delta=self.delta)
            for v in values:
                adwin.update(v)
        return adwin

    def to_state(self) -> dict[str, Any]:
        return {"delta": self.delta, "max_window": self.max_window, "values": list(self._values)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ErrorDrift:
        try:
            detector = cls(delta=float(state["delta"]), max_window=int(state["max_window"]))
            detector._values = [float(v) for v in state["values"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"drift detector state unreadable: {exc!r}") from exc
        detector._adwin = detector._replay(detector._values)
        return detector


class PsiMonitor:
    """Population Stability Index of features and score against a model's training reference.

    ``reference`` is the manifest's ``reference`` block. Features the reference
    does not know (the catalogue grew) are not monitored until a retrain.
    """

    def __init__(
        self, reference: dict[str, Any], half_life: float = 5000.0, names: Sequence[str] = FEATURE_NAMES
    ) -> None:
        self.half_life = half_life
        known = reference.get("features", {})
        self._columns = [(j, n) for j, n in enumerate(names) if n in known]
        self._ref = {n: known[n] for _, n in self._columns}
        if "score" in reference:
            self._ref["score"] = reference["score"]
        self._counts = {n: np.zeros(len(r["fractions"])) for n, r in self._ref.items()}
        self.observed = 0.0  # effective (decayed) number of rows counted

    def update(self, x: Matrix, scores: Matrix | None = None) -> None:
        """Count a scored batch: its feature matrix and the batch model's calibrated probabilities."""
        n = len(x)
        if n == 0:
            return
        decay = 0.5 ** (n / self.half_life)
        self.observed = self.observed * decay + n
        for j, name in self._columns:
            self._counts[name] = self._counts[name] * decay + bin_counts(x[:, j], self._ref[name]["edges"])
        if scores is not None and "score" in self._ref:
            self._counts["score"] = self._counts["score"] * decay + bin_counts(
                np.asarray(scores, dtype=np.float64), self._ref["score"]["edges"]
            )

    def psi(self) -> dict[str, float]:
        """PSI per monitored feature and for ``score`` (0.0 before anything was counted)."""
        return {
            name: psi(np.asarray(ref["fractions"]), self._counts[name]) if self._counts[name].sum() else 0.0
            for name, ref in self._ref.items()
        }

    def drifted(self, threshold: float = 0.25, min_observed: float = 1000.0) -> list[DriftEvent]:
        """One event per feature (or the score) whose PSI is above ``threshold``."""
        if self.observed < min_observed:
            return []
        return [
            DriftEvent(f"psi:{name}", learned=0, details={"psi": value, "observed": self.observed})
            for name, value in self.psi().items()
            if value > threshold
        ]

    def to_state(self) -> dict[str, Any]:
        return {"observed": self.observed, "counts": {n: c.tolist() for n, c in self._counts.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        """Resume counts saved by ``to_state`` for the same reference (others are ignored)."""
        self.observed = float(state.get("observed", 0.0))
        for name, counts in state.get("counts", {}).items():
            if name in self._counts and len(counts) == len(self._counts[name]):
                self._counts[name] = np.asarray(counts, dtype=np.float64)
