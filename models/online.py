"""The online model: River's logistic regression over the catalogue, learning from labels.

Each labelled event updates a ``preprocessing.StandardScaler`` and a
``linear_model.LogisticRegression`` (plain SGD, constant step: an old concept
fades at a fixed rate, so a new fraud pattern is picked up within a few
hundred labels). The features, in ``FEATURE_NAMES`` order whatever they are:

* ``sign(v) · log1p(|v|)`` of every value: amounts, counts and gaps are heavy
  tailed, and one huge payment must not swing a linear model;
* standardised by the running mean and variance, clipped to ±``Z_CLIP``
  (and the margin to ±``MARGIN_CLIP``, so ``exp`` never overflows);
* unknown (NaN) values are imputed at the mean (they add 0) and get a
  missing-indicator weight of their own, ``<name>__missing``.

Class imbalance: the labels feed is 1 % to 50 % fraud depending on its source,
so a running estimate of the fraud share sets the weight of a fraud label
(``(1 - share) / share``, at most ``max_pos_weight``), and predictions subtract
``log(weight)`` from the margin (the prior correction of a weighted logistic
regression). SGD on weighted labels still overshoots, so a last intercept,
``bias``, learns from the *unweighted* labels how far the predictions sit from
the observed frequency (an online calibration in the large). Probabilities are
thus on the scale of the labels feed — or, with ``target_share``, moved to the
traffic's fraud share, for a feed that is mostly chargebacks.

Scoring (``predict_proba_many``) is numpy on the learned weights: no River call,
no per-row loop, no side effect. State is a JSON-safe dict (``to_state``), exact
to the last bit after a round trip (floats print as their shortest repr).

>>> import numpy as np
>>> from features.catalogue import FEATURE_NAMES
>>> model = OnlineModel()
>>> x = np.full((2, len(FEATURE_NAMES)), np.nan)
>>> x[:, 0] = [10.0, 900.0]
>>> model.learn_many(x, np.array([0, 1]))
>>> model.learned
2
>>> p = model.predict_proba_many(x)
>>> bool(p[1] > p[0])
True
>>> restored = OnlineModel.from_state(model.to_state())
>>> bool(np.array_equal(restored.predict_proba_many(x), p))
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from river import linear_model, optim, preprocessing, utils

from features.catalogue import FEATURE_NAMES
from models.errors import ModelIntegrityError

Matrix = npt.NDArray[np.float64]

STATE_FORMAT = "riskwire-online-model/1"
MISSING = "__missing"
#: Standardised values are clipped here: a value far outside what the scaler has
#: seen (seconds since first seen on a young scaler, a tiny variance) must not
#: swing a linear model, and the margin cannot overflow ``exp``.
Z_CLIP = 5.0
#: The margin is clipped here: sigmoid(±30) is 1 - 1e-13 or 1e-13, exp stays finite.
MARGIN_CLIP = 30.0


@dataclass(frozen=True)
class OnlineConfig:
    """Hyper-parameters of the online model (stored in its state)."""

    learning_rate: float = 0.02
    l2: float = 1e-4
    #: The fraud share assumed before any label; a pseudo-count of ``prior_labels``.
    prior_share: float = 0.05
    prior_labels: int = 20
    #: The fraud-share estimate averages over about this many recent labels.
    share_window: int = 2000
    #: Up-weighting fraud speeds learning but costs calibration and steady-state
    #: precision; 5 was the best trade-off on synthetic concept flips (1–10 % fraud).
    max_pos_weight: float = 5.0
    #: Fraud share of the *traffic* when the labels feed is not representative of it
    #: (a chargeback feed is mostly fraud): predictions are moved from the feed's
    #: share to this one. ``None``: the feed is the traffic.
    target_share: float | None = None


def signed_log1p(x: Matrix) -> Matrix:
    return np.sign(x) * np.log1p(np.abs(x))


class OnlineModel:
    """Standardised logistic regression with missing indicators, learning one label at a time."""

    def __init__(self, config: OnlineConfig | None = None, names: Sequence[str] = FEATURE_NAMES) -> None:
        self.config = config or OnlineConfig()
        self.names = tuple(names)
        self._missing = tuple(name + MISSING for name in self.names)
        # River ships no type hints: its objects are typed Any here.
        self.scaler: Any = preprocessing.StandardScaler()
        self.model: Any = linear_model.LogisticRegression(
            optimizer=optim.SGD(self.config.learning_rate),
            l2=self.config.l2,
            intercept_lr=self.config.learning_rate,
        )
        self.fraud_share = self.config.prior_share
        self.bias = 0.0
        self.learned = 0

    @property
    def pos_weight(self) -> float:
        """Weight of a fraud label now: balances the classes, within bounds."""
        share = min(max(self.fraud_share, 1e-6), 0.5)
        return min(self.config.max_pos_weight, (1.0 - share) / share)

    def prior_shift(self) -> float:
        """Added to the margin: undoes the fraud up-weighting, then moves to ``target_share``."""
        shift = self.bias - math.log(self.pos_weight)
        if (target := self.config.target_share) is not None:
            share = min(max(self.fraud_share, 1e-6), 1 - 1e-6)
            shift += math.log(target / (1 - target)) - math.log(share / (1 - share))
        return shift

    # --- scoring -------------------------------------------------------------------------

    def predict_proba_many(self, x: Matrix) -> Matrix:
        """Fraud probability per row of an ``n × features`` matrix; pure and vectorised."""
        return self._proba(x, self.prior_shift())

    def _proba(self, x: Matrix, shift: float) -> Matrix:
        z = signed_log1p(np.asarray(x, dtype=np.float64))
        present = np.isfinite(z)
        means = np.array([self.scaler.means.get(n, 0.0) for n in self.names])
        stds = np.sqrt(np.array([self.scaler.vars.get(n, 0.0) for n in self.names]))
        weights = self.model.weights
        w = np.array([weights.get(n, 0.0) for n in self.names])
        w_missing = np.array([weights.get(n, 0.0) for n in self._missing])
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(present & (stds > 0), (z - means) / stds, 0.0)
        scaled = np.clip(scaled, -Z_CLIP, Z_CLIP)
        margin = scaled @ w + (~present) @ w_missing + self.model.intercept + shift
        margin = np.clip(margin, -MARGIN_CLIP, MARGIN_CLIP)
        out: Matrix = 1.0 / (1.0 + np.exp(-margin))
        return out

    # --- learning ------------------------------------------------------------------------

    def learn_one(self, x: Matrix, y: int | bool) -> None:
        """Learn one labelled row (a 1-d array of ``len(FEATURE_NAMES)`` values)."""
        x = np.asarray(x, dtype=np.float64)
        fraud = bool(y)
        # Calibration in the large: the feed-scale forecast, before this label is learned.
        feed = float(self._proba(x[None, :], self.bias - math.log(self.pos_weight))[0])
        self.bias += self.config.learning_rate * (float(fraud) - feed)
        z = signed_log1p(x).tolist()
        present = {n: v for n, v in zip(self.names, z, strict=True) if math.isfinite(v)}
        self.scaler.learn_one(present)
        # The same clip as scoring's, so learning sees what scoring sees.
        features = {n: min(Z_CLIP, max(-Z_CLIP, v)) for n, v in self.scaler.transform_one(present).items()}
        for n, indicator in zip(self.names, self._missing, strict=True):
            if n not in present:
                features[indicator] = 1.0
        self.model.learn_one(features, fraud, w=self.pos_weight if fraud else 1.0)
        # The share estimate learns after the weight was used: a label never weighs itself.
        cfg = self.config
        step = 1.0 / min(self.learned + 1 + cfg.prior_labels, cfg.share_window)
        self.fraud_share += step * (float(fraud) - self.fraud_share)
        self.learned += 1

    def learn_many(self, x: Matrix, y: npt.NDArray[Any]) -> None:
        """Learn rows in order (labels are few; order matters for SGD)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.names) or len(x) != len(y):
            raise ValueError(f"expected an n × {len(self.names)} matrix and n labels, got {x.shape}")
        for row, label in zip(x, np.asarray(y).tolist(), strict=True):
            self.learn_one(row, label)

    # --- state ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-safe state: restoring it gives the same predictions and the same learning."""
        return {
            "format": STATE_FORMAT,
            "feature_names": list(self.names),
            "config": asdict(self.config),
            "scaler": {
                "counts": dict(self.scaler.counts),
                "means": dict(self.scaler.means),
                "vars": dict(self.scaler.vars),
            },
            "weights": self.model.weights,
            "intercept": self.model.intercept,
            "iterations": self.model.optimizer.n_iterations,
            "fraud_share": self.fraud_share,
            "bias": self.bias,
            "learned": self.learned,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], names: Sequence[str] = FEATURE_NAMES) -> OnlineModel:
        """Rebuild a model; a state of another format or feature list is refused."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ModelIntegrityError(f"online model state: not a {STATE_FORMAT} state")
        if tuple(state.get("feature_names", ())) != tuple(names):
            raise ModelIntegrityError(
                "online model state was learned on other features than the catalogue's: start it afresh"
            )
        try:
            model = cls(OnlineConfig(**state["config"]), names)
            scaler = state["scaler"]
            model.scaler.counts.update({k: int(v) for k, v in scaler["counts"].items()})
            model.scaler.means.update({k: float(v) for k, v in scaler["means"].items()})
            model.scaler.vars.update({k: float(v) for k, v in scaler["vars"].items()})
            # River 0.26's GLM keeps its weights here; the round-trip test guards it.
            model.model._weights = utils.VectorDict({k: float(v) for k, v in state["weights"].items()})
            model.model.intercept = float(state["intercept"])
            model.model.optimizer.n_iterations = int(state["iterations"])
            model.fraud_share = float(state["fraud_share"])
            model.bias = float(state["bias"])
            model.learned = int(state["learned"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelIntegrityError(f"online model state unreadable: {exc!r}") from exc
        return model
