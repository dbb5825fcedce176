"""The online learner: online model, blend rule and drift detector as one object.

The worker holds one ``OnlineLearner``. Per scored micro-batch it calls
``blend(x, p_batch)`` (pure: nothing changes); per batch of labels, in label
order, ``learn(x, y, p_batch)`` with the features and the batch model's
calibrated probability *as they were when each event was scored*. Each label
is used prequentially: both models' probabilities for it are taken before the
online model learns it, so the blend compares honest forecasts.

``to_state`` / ``from_state`` give a JSON-safe checkpoint (Redis, the
registry) that restores the same blend and the same future learning, bit for
bit. ``online_version`` names the state in decision records:
``<origin>+<labels learned>``.

>>> import numpy as np
>>> from features.catalogue import FEATURE_NAMES
>>> learner = OnlineLearner(origin="fresh")
>>> x = np.zeros((4, len(FEATURE_NAMES)))
>>> out = learner.blend(x, np.full(4, 0.02))
>>> out.online_weight, out.probability.tolist()  # nothing learned yet: the batch model alone
(0.0, [0.02, 0.02, 0.02, 0.02])
>>> learner.learn(x, np.array([0, 0, 1, 0]), np.full(4, 0.02))
[]
>>> learner.learned, learner.online_version
(4, 'fresh+4')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from models.blend import BlendConfig, Blender
from models.drift import DriftEvent, ErrorDrift, batch_error
from models.errors import ModelIntegrityError
from models.online import OnlineConfig, OnlineModel
from models.registry import ONLINE_FORMAT as STATE_FORMAT

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BlendResult:
    """The blended probability per row, the online model's own, and its weight."""

    probability: Matrix
    online_probability: Matrix
    online_weight: float


class OnlineLearner:
    """Online model + blend + drift detection, learning from labels in order."""

    def __init__(
        self,
        model: OnlineModel | None = None,
        blender: Blender | None = None,
        detector: ErrorDrift | None = None,
        origin: str = "fresh",
    ) -> None:
        self.model = model or OnlineModel()
        self.blender = blender or Blender()
        self.detector = detector or ErrorDrift()
        self.origin = origin
        self.version = 0  # one more per learn() call that learned something

    @classmethod
    def create(
        cls,
        online: OnlineConfig | None = None,
        blend: BlendConfig | None = None,
        drift_delta: float = 0.002,
        origin: str = "fresh",
    ) -> OnlineLearner:
        """A learner that has learned nothing, with the given settings."""
        return cls(OnlineModel(online), Blender(blend), ErrorDrift(delta=drift_delta), origin)

    @property
    def learned(self) -> int:
        return self.model.learned

    @property
    def online_version(self) -> str:
        return f"{self.origin}+{self.learned}"

    def online_weight(self) -> float:
        return self.blender.weight(self.learned)

    def class_weight(self, label: int) -> float:
        """How much a label of this class counts in the blend's evidence: the traffic's
        share of the class over the labels feed's (1 when the traffic's is not known)."""
        target = self.model.config.target_share
        if target is None:
            return 1.0
        feed = min(max(self.model.fraud_share, 1e-3), 1.0 - 1e-3)
        return target / feed if label else (1.0 - target) / (1.0 - feed)

    def blend(self, x: Matrix, p_batch: Matrix) -> BlendResult:
        """Blend a scored batch; changes nothing."""
        p_batch = np.asarray(p_batch, dtype=np.float64)
        p_online = self.model.predict_proba_many(x)
        w = self.online_weight()
        p = p_batch if w == 0.0 else (1.0 - w) * p_batch + w * p_online
        return BlendResult(probability=p, online_probability=p_online, online_weight=w)

    def learn(
        self, x: Matrix, y: npt.NDArray[Any], p_batch: Matrix, times_ms: npt.NDArray[Any] | None = None
    ) -> list[DriftEvent]:
        """Learn labelled rows in order; returns the drift detections they caused.

        ``p_batch`` is the batch model's calibrated probability for each row;
        ``times_ms`` (optional) when each label was reported, for the events.
        """
        x = np.asarray(x, dtype=np.float64)
        labels = np.asarray(y).astype(int).tolist()
        batch = np.asarray(p_batch, dtype=np.float64).tolist()
        if not len(labels) == len(batch) == len(x):
            raise ValueError("x, y and p_batch must have the same number of rows")
        events = []
        for i, (label, pb) in enumerate(zip(labels, batch, strict=True)):
            po = float(self.model.predict_proba_many(x[i : i + 1])[0])  # before learning row i
            self.blender.update(label, pb, po, self.class_weight(label))
            if self.detector.update(batch_error(label, pb)):
                self.blender.drift()
                at = None if times_ms is None else int(times_ms[i])
                events.append(
                    DriftEvent(self.detector.name, self.learned, at, dict(self.detector.last_detection))
                )
            self.model.learn_one(x[i], label)
        if labels:
            self.version += 1
        return events

    def to_state(self) -> dict[str, Any]:
        """JSON-safe: ``json.dumps`` it as is (insertion order kept, floats exact)."""
        return {
            "format": STATE_FORMAT,
            "origin": self.origin,
            "version": self.version,
            "model": self.model.to_state(),
            "blend": self.blender.to_state(),
            "drift": self.detector.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OnlineLearner:
        """Restore a checkpoint; a wrong format or feature list raises ``ModelIntegrityError``."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ModelIntegrityError(f"online learner state: not a {STATE_FORMAT} state")
        try:
            learner = cls(
                OnlineModel.from_state(state["model"]),
                Blender.from_state(state["blend"]),
                ErrorDrift.from_state(state["drift"]),
                origin=str(state["origin"]),
            )
            learner.version = int(state["version"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"online learner state unreadable: {exc!r}") from exc
        return learner
