"""The blend rule: how much of the online model goes into the probability.

``p = (1 - w) · p_batch + w · p_online``, one ``w`` for a whole batch. The weight
is *earned*: the online model gets one only while it has been forecasting the
labels significantly better than the batch model, so with no drift it is 0 and
the blend is the batch model, its confident scores untouched.

1. *Prequential losses.* Every labelled event is scored by both models before
   the online model learns it (test-then-train). Each forecast is first put
   through its own online Platt recalibration, ``sigmoid(a · logit(p) + b)``
   (one SGD step per label, after use): what is compared is how well each model
   *separates* fraud from legitimate payments, not its calibration — the batch
   model's label-delay calibration costs it log-loss on confirmed legitimate
   payments while it ranks them better.
2. *Class weights.* Each label counts ``target / feed`` if fraud and
   ``(1 - target) / (1 - feed)`` if legitimate (the traffic's share of the class
   over the labels feed's; the learner passes them, 1 when the traffic's share
   is not known): the feed is mostly chargebacks, a third or more fraud where the
   traffic has 1–2 %, and on it the model that scores everything higher looks
   better.
3. *Significance.* The per-label loss gaps ``d = loss_batch - loss_online`` are
   averaged with an exponential discount (half-life ``half_life`` labels), with
   their variance and effective count, into a t statistic ``t = mean / se``. The
   weight is ``w_max · clip((t - t_earn) / (t_full - t_earn), 0, 1)``: nothing
   until the online model's lead is ``t_earn`` (1.5) standard errors, ``w_max``
   from ``t_full`` (3.5). Noise in either direction earns nothing.
4. *Drift.* When ADWIN flags a change in the batch model's errors, the evidence
   restarts (the past record no longer describes the models) and the new
   labels decide. A detection grants no weight by itself: on the quality
   benchmark ADWIN fires where labels pass from the training window to unseen
   weeks, and any weight on an unproven online model reorders the batch model's
   confident scores.
5. *Bounds.* ``w`` is clipped to ``[w_min, w_max]``; it is 0 while the online
   model has learned fewer than ``warmup`` labels, and always 0 when the blend
   is disabled (for comparisons with the batch model alone).

Everything is a deterministic function of the labels in order (replay = live);
the state is a few numbers, checkpointed with the online model.
(``hedge_weight``, the exponential-weights share of the discounted losses, is
kept as a diagnostic; ``boost`` as the labels since the last detection decay it.)

>>> blender = Blender(BlendConfig(w_min=0.0, w_max=0.7, warmup=0))
>>> blender.weight(learned=100)  # no evidence yet
0.0
>>> for i in range(300):  # the online model separates the classes, the batch model does not
...     y = int(i % 3 == 0)
...     blender.update(y=y, p_batch=0.3, p_online=0.9 if y else 0.1)
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
#: The recalibration's slope never falls below this.
MIN_SLOPE = 0.05


@dataclass(frozen=True)
class BlendConfig:
    w_min: float = 0.0
    w_max: float = 0.7
    eta: float = 1.0
    half_life: float = 500.0
    boost_half_life: float = 200.0
    warmup: int = 50
    enabled: bool = True
    #: The online model's lead must be this many standard errors to earn any weight ...
    t_earn: float = 1.5
    #: ... and this many to earn ``w_max``.
    t_full: float = 3.5
    #: Step of the online Platt recalibration of each model before its loss is counted.
    recalibration_rate: float = 0.02
    #: Labels (effective, after the discount) the lead needs before it counts at all.
    min_evidence: float = 100.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.w_min <= self.w_max <= 1.0:
            raise ValueError("blend weights must satisfy 0 <= w_min <= w_max <= 1")
        if self.half_life <= 0 or self.boost_half_life <= 0 or self.eta <= 0:
            raise ValueError("half-lives and eta must be positive")
        if self.recalibration_rate < 0:
            raise ValueError("recalibration_rate must be >= 0")
        if not 0.0 <= self.t_earn < self.t_full:
            raise ValueError("need 0 <= t_earn < t_full")


def log_loss(y: int, p: float) -> float:
    p = min(1.0 - LOSS_EPS, max(LOSS_EPS, p))
    return -math.log(p if y else 1.0 - p)


def _recalibrate(ab: list[float], p: float, y: int, weight: float, rate: float) -> float:
    """The recalibrated forecast of ``p`` (before this label), then one SGD step on it."""
    p = min(1.0 - LOSS_EPS, max(LOSS_EPS, p))
    z = math.log(p / (1.0 - p))
    m = max(-30.0, min(30.0, ab[0] * z + ab[1]))
    q = 1.0 / (1.0 + math.exp(-m))
    g = weight * (q - y)
    # The slope stays positive: recalibration may stretch or squeeze a model's scores,
    # never reverse its ranking (the blend uses the scores as they are).
    ab[0] = max(MIN_SLOPE, ab[0] - rate * g * z)
    ab[1] -= rate * g
    return q


class Blender:
    """Tracks the two models' recent losses and drift; gives the online model's weight."""

    def __init__(self, config: BlendConfig | None = None) -> None:
        self.config = config or BlendConfig()
        self.loss_batch = 0.0
        self.loss_online = 0.0
        self.boost = 0.0
        self.labels = 0
        #: Platt recalibration ``sigmoid(a · logit(p) + b)`` of each model: [a, b].
        self.recal_batch = [1.0, 0.0]
        self.recal_online = [1.0, 0.0]
        #: Discounted sums of the squared loss gaps, of the discounts and of their squares.
        self.gap_sq = 0.0
        self.mass = 0.0
        self.mass_sq = 0.0

    def hedge_weight(self) -> float:
        """Diagnostic: the exponential-weights share of the online model the losses imply."""
        z = self.config.eta * (self.loss_batch - self.loss_online)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def lead(self) -> float:
        """The online model's mean log-loss lead per label, in standard errors (0 before
        ``min_evidence`` labels)."""
        if self.mass <= 0:
            return 0.0
        n_eff = self.mass * self.mass / max(self.mass_sq, 1e-300)
        if n_eff < self.config.min_evidence:
            return 0.0  # a few labels (after a start or a drift) say nothing yet
        mean = (self.loss_batch - self.loss_online) / self.mass
        var = max(self.gap_sq / self.mass - mean * mean, 1e-12)
        return mean / math.sqrt(var / n_eff)

    def weight(self, learned: int) -> float:
        """The online model's weight in the blend, given how many labels it has learned."""
        cfg = self.config
        if not cfg.enabled or learned < cfg.warmup:
            return 0.0
        earned = cfg.w_max * min(1.0, max(0.0, (self.lead() - cfg.t_earn) / (cfg.t_full - cfg.t_earn)))
        return min(cfg.w_max, max(cfg.w_min, earned))

    def update(self, y: int, p_batch: float, p_online: float, weight: float = 1.0) -> None:
        """One labelled event: both models' probabilities from before it was learned, and
        the label's class weight (traffic share / feed share of its class)."""
        cfg = self.config
        keep = 0.5 ** (1.0 / cfg.half_life)
        q_batch = _recalibrate(self.recal_batch, p_batch, y, weight, cfg.recalibration_rate)
        q_online = _recalibrate(self.recal_online, p_online, y, weight, cfg.recalibration_rate)
        lb, lo = weight * log_loss(y, q_batch), weight * log_loss(y, q_online)
        self.loss_batch = keep * self.loss_batch + lb
        self.loss_online = keep * self.loss_online + lo
        self.gap_sq = keep * self.gap_sq + (lb - lo) ** 2
        self.mass = keep * self.mass + 1.0
        self.mass_sq = keep * keep * self.mass_sq + 1.0
        self.boost *= 0.5 ** (1.0 / cfg.boost_half_life)
        self.labels += 1

    def drift(self) -> None:
        """The batch model's errors changed: restart the evidence (no weight is granted)."""
        self.loss_batch = self.loss_online = self.gap_sq = self.mass = self.mass_sq = 0.0
        self.boost = 1.0

    def to_state(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "loss_batch": self.loss_batch,
            "loss_online": self.loss_online,
            "boost": self.boost,
            "labels": self.labels,
            "recal_batch": list(self.recal_batch),
            "recal_online": list(self.recal_online),
            "gap_sq": self.gap_sq,
            "mass": self.mass,
            "mass_sq": self.mass_sq,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Blender:
        try:
            blender = cls(BlendConfig(**state["config"]))
            blender.loss_batch = float(state["loss_batch"])
            blender.loss_online = float(state["loss_online"])
            blender.boost = float(state["boost"])
            blender.labels = int(state["labels"])
            # A state from before the recalibration starts it from the identity.
            blender.recal_batch = [float(v) for v in state.get("recal_batch", (1.0, 0.0))]
            blender.recal_online = [float(v) for v in state.get("recal_online", (1.0, 0.0))]
            if "mass" not in state:  # a state from before the earned weight: fresh evidence
                blender.loss_batch = blender.loss_online = 0.0
            blender.gap_sq = float(state.get("gap_sq", 0.0))
            blender.mass = float(state.get("mass", 0.0))
            blender.mass_sq = float(state.get("mass_sq", 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"blend state unreadable: {exc!r}") from exc
        return blender
