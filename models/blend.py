"""The blend rule: how much of the online model goes into the probability.

``p = (1 - w) · p_batch + w · p_online``, one ``w`` for a whole batch:

1. *Hedge.* On every labelled event, both models' log-losses (their
   probabilities before the label was learned) are added to exponentially
   discounted sums ``L_batch`` and ``L_online`` (half-life ``half_life``
   labels). ``w_hedge = sigmoid(eta · (L_batch - L_online))`` — the
   exponential-weights share of the online model: 0.5 when both have done
   equally well lately, towards 1 as the batch model does worse.
2. *Drift.* When ADWIN flags a change in the batch model's errors, a boost
   ``b`` is set to 1; it halves every ``boost_half_life`` labels. The boost
   keeps ``w`` at least ``w_min + b · (w_max - w_min)``: right after a drift the
   online model gets ``w_max``, then the losses take over again as labels
   accumulate.
3. *Bounds.* ``w`` is clipped to ``[w_min, w_max]``; it is 0 while the online
   model has learned fewer than ``warmup`` labels, and always 0 when the blend
   is disabled (for comparisons with the batch model alone).

Everything is a deterministic function of the labels seen; the state is four
numbers.

>>> blender = Blender(BlendConfig(w_min=0.1, w_max=0.7, warmup=0))
>>> blender.weight(learned=100)
0.5
>>> for _ in range(300):
...     blender.update(y=1, p_batch=0.2, p_online=0.8)
>>> blender.weight(learned=400)
0.7
>>> blender.to_state() == Blender.from_state(blender.to_state()).to_state()
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from models.errors import ModelIntegrityError

#: Probabilities are clipped before the log: one confident miss costs at most ~9 nats.
LOSS_EPS = 1e-4


@dataclass(frozen=True)
class BlendConfig:
    w_min: float = 0.1
    w_max: float = 0.7
    eta: float = 1.0
    half_life: float = 500.0
    boost_half_life: float = 200.0
    warmup: int = 50
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.w_min <= self.w_max <= 1.0:
            raise ValueError("blend weights must satisfy 0 <= w_min <= w_max <= 1")
        if self.half_life <= 0 or self.boost_half_life <= 0 or self.eta <= 0:
            raise ValueError("half-lives and eta must be positive")


def log_loss(y: int, p: float) -> float:
    p = min(1.0 - LOSS_EPS, max(LOSS_EPS, p))
    return -math.log(p if y else 1.0 - p)


class Blender:
    """Tracks the two models' recent losses and drift; gives the online model's weight."""

    def __init__(self, config: BlendConfig | None = None) -> None:
        self.config = config or BlendConfig()
        self.loss_batch = 0.0
        self.loss_online = 0.0
        self.boost = 0.0
        self.labels = 0

    def hedge_weight(self) -> float:
        """The unbounded exponential-weights share of the online model."""
        z = self.config.eta * (self.loss_batch - self.loss_online)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def weight(self, learned: int) -> float:
        """The online model's weight in the blend, given how many labels it has learned."""
        cfg = self.config
        if not cfg.enabled or learned < cfg.warmup:
            return 0.0
        w = min(cfg.w_max, max(cfg.w_min, self.hedge_weight()))
        return max(w, cfg.w_min + self.boost * (cfg.w_max - cfg.w_min))

    def update(self, y: int, p_batch: float, p_online: float) -> None:
        """One labelled event: both models' probabilities from before it was learned."""
        cfg = self.config
        keep = 0.5 ** (1.0 / cfg.half_life)
        self.loss_batch = keep * self.loss_batch + log_loss(y, p_batch)
        self.loss_online = keep * self.loss_online + log_loss(y, p_online)
        self.boost *= 0.5 ** (1.0 / cfg.boost_half_life)
        self.labels += 1

    def drift(self) -> None:
        """The batch model's errors changed: give the online model ``w_max`` for now."""
        self.boost = 1.0

    def to_state(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "loss_batch": self.loss_batch,
            "loss_online": self.loss_online,
            "boost": self.boost,
            "labels": self.labels,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Blender:
        try:
            blender = cls(BlendConfig(**state["config"]))
            blender.loss_batch = float(state["loss_batch"])
            blender.loss_online = float(state["loss_online"])
            blender.boost = float(state["boost"])
            blender.labels = int(state["labels"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"blend state unreadable: {exc!r}") from exc
        return blender
