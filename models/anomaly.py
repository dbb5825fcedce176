"""A cold-start model without labels: River's Half-Space Trees over a few features.

Before there are enough fraud labels to train the XGBoost model (see the
README, "Cold start without labels"), ``riskwire train --unsupervised`` fits
this instead and registers it like any other version (``manifest["kind"] ==
"anomaly"``); ``models.batch_model.BatchModel`` serves it through the same
three calls (``margin``, ``predict_proba``, ``contributions``), so the worker,
replay and the API score and explain it unchanged.

* *Features.* ``ANOMALY_FEATURES``: how a payment compares with its card's
  normal (amount against the 30-day average, velocity, gaps), novelty (a new
  device or email) and spread (cards per device, IP, email; countries). Label
  features are left out: there are no labels. Values go through
  ``sign(v) · log1p(|v|)`` and are scaled to [0, 1] by the training window's
  0.1 % and 99.9 % quantiles (clipped), the range Half-Space Trees expect.
* *Trees.* ``river.anomaly.HalfSpaceTrees`` learns one window (a seeded sample of
  the history) and its trees are then frozen into arrays (heap order: node
  ``i``'s children are ``2i + 1`` and ``2i + 2``) and scored with numpy, with
  River's rule (the sum of ``mass · 2^depth`` along the path, stopping below
  ``0.1 · window``; a missing value follows the heavier child). A test checks the
  scores against River's ``score_one``.
* *Probability.* Without labels there is no calibrated fraud probability. The
  score's *tail share* ``t`` (the share of the training window scoring at least
  as high) becomes ``p = c / (c + t)`` with ``c`` the assumed contamination
  (``RISKWIRE_ANOMALY_CONTAMINATION``, 0.5 %): a payment as rare as the top
  0.5 % of history has ``p = 0.5``, one rarer than all of it ``p ≈ 1``.
* *Reasons.* Per feature, the evidence its splits gave: at each branch on the
  path, ``log2`` of how much less mass the half the payment went to holds than
  an even split (``(parent + 1) / (2 · (child + 1))``), averaged over trees. The
  strongest ones are worded by the usual templates ("240.00 EUR is 12.0× this
  card's 30-day average…"). ``base`` is what is left of the margin, so
  ``base + Σ contributions = margin`` holds as for TreeSHAP.

>>> import numpy as np
>>> from features.catalogue import FEATURE_INDEX, FEATURE_NAMES
>>> rng = np.random.default_rng(0)
>>> x = np.full((2000, len(FEATURE_NAMES)), np.nan)
>>> x[:, FEATURE_INDEX["amount"]] = rng.lognormal(3, 0.3, 2000)
>>> x[:, FEATURE_INDEX["amount_to_card_avg_30d"]] = rng.lognormal(0, 0.2, 2000)
>>> model = AnomalyModel.fit(x, seed=1, n_trees=10, height=5, names=("amount", "amount_to_card_avg_30d"))
>>> odd = x[:2].copy(); odd[1, FEATURE_INDEX["amount_to_card_avg_30d"]] = 40.0
>>> p = model.predict_proba(odd)
>>> bool(p[1] > p[0])
True
>>> AnomalyModel.from_json(model.to_json()).predict_proba(odd).tolist() == p.tolist()
True
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from river import anomaly
from river.tree import padded

from features.catalogue import FEATURE_INDEX, FEATURE_NAMES
from models.errors import ModelIntegrityError

Matrix = npt.NDArray[np.float64]

ANOMALY_FORMAT = "riskwire-anomaly-hst/1"
KIND = "anomaly"
ANOMALY_FEATURES = (
    "amount",
    "amount_to_card_avg_30d",
    "amount_zscore_card_30d",
    "card_count_1h",
    "card_count_24h",
    "card_amount_sum_24h",
    "card_seconds_since_previous",
    "card_distinct_merchants_24h",
    "card_distinct_countries_24h",
    "device_seconds_since_first",
    "email_seconds_since_first",
    "device_distinct_cards_24h",
    "ip_distinct_cards_24h",
    "email_distinct_cards_24h",
    "card_ip_country_mismatch",
    "card_merchant_country_mismatch",
)
#: Quantile levels of the training scores kept for the tail share (finer in the tail).
LEVELS = np.unique(np.concatenate([np.linspace(0.0, 0.95, 96), np.linspace(0.95, 1.0, 501)]))
P_CLIP = 1e-6
#: The [0, 1] scale spans the history's 0.1–99.9 % range widened by this share of it each side.
MARGIN = 0.2


def signed_log1p(x: Matrix) -> Matrix:
    return np.sign(x) * np.log1p(np.abs(x))


class AnomalyModel:
    """Frozen Half-Space Trees with a tail-share probability; JSON in, JSON out."""

    def __init__(
        self,
        *,
        names: Sequence[str],
        lo: Matrix,
        hi: Matrix,
        feature: npt.NDArray[np.int64],
        threshold: Matrix,
        mass: Matrix,
        window: int,
        quantiles: Matrix,
        contamination: float,
    ) -> None:
        self.names = tuple(names)
        self.columns = np.array([FEATURE_INDEX[n] for n in self.names], dtype=np.int64)
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self.feature = np.asarray(feature, dtype=np.int64)  # trees × nodes, -1 at leaves
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.mass = np.asarray(mass, dtype=np.float64)
        self.n_trees, nodes = self.feature.shape
        self.height = round(math.log2(nodes + 1)) - 1
        if self.threshold.shape != self.feature.shape or self.mass.shape != self.feature.shape:
            raise ModelIntegrityError("anomaly model: tree arrays of different shapes")
        if 2 ** (self.height + 1) - 1 != nodes:
            raise ModelIntegrityError("anomaly model: a tree is not a full binary tree")
        self.window = int(window)
        self.quantiles = np.asarray(quantiles, dtype=np.float64)
        if len(self.quantiles) != len(LEVELS):
            raise ModelIntegrityError("anomaly model: wrong number of score quantiles")
        self.contamination = float(contamination)
        self._river: Any = None

    # --- fitting -----------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        x: Matrix,
        *,
        seed: int = 7,
        n_trees: int = 30,
        height: int = 8,
        window: int = 20_000,
        contamination: float = 0.005,
        names: Sequence[str] = ANOMALY_FEATURES,
    ) -> AnomalyModel:
        """Learn one window of ``x`` (``n × catalogue`` matrix) with River, then freeze it."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURE_NAMES) or len(x) < 100:
            raise ValueError("the anomaly model needs an n × catalogue matrix of at least 100 payments")
        cols = np.array([FEATURE_INDEX[n] for n in names], dtype=np.int64)
        z = signed_log1p(x[:, cols])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature never known: All-NaN
            lo = np.nan_to_num(np.nanquantile(z, 0.001, axis=0), nan=0.0)
            hi = np.nan_to_num(np.nanquantile(z, 0.999, axis=0), nan=1.0)
        hi = np.where(hi > lo, hi, lo + 1.0)
        # Room beyond the history's range: splits land there too, so a value far outside
        # it is isolated rather than lumped with the history's top 0.1 %.
        lo, hi = lo - MARGIN * (hi - lo), hi + MARGIN * (hi - lo)
        rng = np.random.default_rng(seed)
        size = min(window, len(x))
        sample = np.sort(rng.choice(len(x), size=size, replace=False))
        u = _unit(z[sample], lo, hi)
        hst: Any = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=size, seed=seed)
        keys = [str(j) for j in range(len(names))]
        # River builds its trees on the features of the first row it learns, and a
        # payment may lack some: build them on every feature first, as learn_one would.
        make_tree: Any = padded.make_padded_tree  # River ships no type hints
        hst.trees = [
            make_tree(
                limits={k: (0.0, 1.0) for k in sorted(keys)},
                height=height,
                padding=0.15,
                rng=hst.rng,
                r_mass=0,
                l_mass=0,
            )
            for _ in range(n_trees)
        ]
        hst._tree_nodes = [list(t.iter_dfs()) for t in hst.trees]
        for row in u.tolist():
            hst.learn_one({k: v for k, v in zip(keys, row, strict=True) if v == v})
        nodes = 2 ** (height + 1) - 1
        feature = np.full((n_trees, nodes), -1, dtype=np.int64)
        threshold = np.zeros((n_trees, nodes))
        mass = np.zeros((n_trees, nodes))
        for t, root in enumerate(hst.trees):
            stack = [(root, 0)]
            while stack:
                node, i = stack.pop()
                mass[t, i] = node.r_mass
                if hasattr(node, "feature"):
                    feature[t, i], threshold[t, i] = int(node.feature), float(node.threshold)
                    stack += [(node.children[0], 2 * i + 1), (node.children[1], 2 * i + 2)]
        model = cls(
            names=names,
            lo=lo,
            hi=hi,
            feature=feature,
            threshold=threshold,
            mass=mass,
            window=size,
            quantiles=np.zeros(len(LEVELS)),
            contamination=contamination,
        )
        model._river = hst  # for the test that the frozen scores are River's; not saved
        scores = np.concatenate([model.score(x[i : i + 5000]) for i in range(0, len(x), 5000)])
        model.quantiles = np.quantile(scores, LEVELS)
        return model

    # --- scoring -----------------------------------------------------------------------

    def unit(self, x: Matrix) -> Matrix:
        """The model's inputs: its features of each row, on the [0, 1] scale the trees split."""
        return _unit(signed_log1p(np.asarray(x, dtype=np.float64)[:, self.columns]), self.lo, self.hi)

    def _paths(self, x: Matrix) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Node index per row, tree and depth (``n × trees × (height + 1)``), and whether
        River's walk reaches it (it stops once a node's mass is below the size limit)."""
        u = self.unit(x)
        n, h = len(u), self.height
        trees = np.arange(self.n_trees)[None, :]
        rows = np.arange(n)[:, None]
        idx = np.zeros((n, self.n_trees), dtype=np.int64)
        alive = np.ones((n, self.n_trees), dtype=np.bool_)
        limit = 0.1 * self.window
        paths = np.zeros((n, self.n_trees, h + 1), dtype=np.int64)
        reached = np.zeros((n, self.n_trees, h + 1), dtype=np.bool_)
        for d in range(h + 1):
            paths[:, :, d], reached[:, :, d] = idx, alive
            if d == h:
                break
            alive = alive & (self.mass[trees, idx] >= limit)
            f = self.feature[trees, idx]
            v = u[rows, f]
            left = np.where(
                np.isnan(v),
                self.mass[trees, 2 * idx + 1] >= self.mass[trees, 2 * idx + 2],
                v < self.threshold[trees, idx],
            )
            idx = 2 * idx + 1 + (~left)
        return paths, reached

    def score(self, x: Matrix) -> Matrix:
        """River's anomaly score, in [0, 1], higher is more unusual."""
        paths, reached = self._paths(x)
        depth_pow = 2.0 ** np.arange(self.height + 1)
        m = self.mass[np.arange(self.n_trees)[None, :, None], paths]
        total = (np.where(reached, m, 0.0) * depth_pow).sum(axis=(1, 2))
        top = self.n_trees * self.window * (2 ** (self.height + 1) - 1)
        out: Matrix = 1.0 - total / top
        return out

    def tail_share(self, score: Matrix) -> Matrix:
        """Share of the training window scoring at least ``score`` (interpolated)."""
        below = np.interp(score, self.quantiles, LEVELS, left=0.0, right=1.0)
        out: Matrix = np.maximum(1.0 - below, 0.0)
        return out

    def predict_proba(self, x: Matrix) -> Matrix:
        c = self.contamination
        p = c / (c + self.tail_share(self.score(x)))
        out: Matrix = np.clip(p, P_CLIP, 1.0 - P_CLIP)
        return out

    def margin(self, x: Matrix) -> Matrix:
        p = self.predict_proba(x)
        out: Matrix = np.log(p / (1.0 - p))
        return out

    def contributions(self, x: Matrix) -> tuple[Matrix, Matrix]:
        """Per catalogue feature, the evidence of its splits (``n × catalogue``), and the base."""
        paths, reached = self._paths(x)
        n, h = len(x), self.height
        trees = np.arange(self.n_trees)[None, :, None]
        parent, child = paths[:, :, :h], paths[:, :, 1:]
        used = reached[:, :, 1:]  # the walk went on from the parent to this child
        evidence = np.log2((self.mass[trees, parent] + 1.0) / (2.0 * (self.mass[trees, child] + 1.0)))
        which = self.feature[trees, parent]
        out = np.zeros((n, len(FEATURE_NAMES)))
        rows = np.broadcast_to(np.arange(n)[:, None, None], which.shape)
        np.add.at(out, (rows[used], self.columns[which[used]]), evidence[used] / self.n_trees)
        base = self.margin(x) - out.sum(axis=1)
        return out, base

    # --- state -------------------------------------------------------------------------

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": ANOMALY_FORMAT,
                "features": list(self.names),
                "lo": self.lo.tolist(),
                "hi": self.hi.tolist(),
                "feature": self.feature.tolist(),
                "threshold": self.threshold.tolist(),
                "mass": self.mass.tolist(),
                "window": self.window,
                "quantiles": self.quantiles.tolist(),
                "contamination": self.contamination,
            }
        ).encode()

    @classmethod
    def from_json(cls, body: bytes) -> AnomalyModel:
        """A model from ``to_json``'s bytes; anything else is a ``ModelIntegrityError``."""
        if body.lstrip()[:1] != b"{":
            raise ModelIntegrityError("anomaly model: not a JSON object")
        try:
            doc = json.loads(body)
            if doc.get("format") != ANOMALY_FORMAT:
                raise ModelIntegrityError(f"anomaly model: not a {ANOMALY_FORMAT} document")
            unknown = [n for n in doc["features"] if n not in FEATURE_INDEX]
            if unknown:
                raise ModelIntegrityError(f"anomaly model uses features the catalogue lacks: {unknown}")
            return cls(
                names=doc["features"],
                lo=np.array(doc["lo"]),
                hi=np.array(doc["hi"]),
                feature=np.array(doc["feature"], dtype=np.int64),
                threshold=np.array(doc["threshold"]),
                mass=np.array(doc["mass"]),
                window=int(doc["window"]),
                quantiles=np.array(doc["quantiles"]),
                contamination=float(doc["contamination"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"anomaly model unreadable: {exc!r}") from exc


def _unit(z: Matrix, lo: Matrix, hi: Matrix) -> Matrix:
    """Scaled to [0, 1] by the training limits; NaN stays NaN (missing)."""
    with np.errstate(invalid="ignore"):
        out: Matrix = np.clip((z - lo) / (hi - lo), 0.0, 1.0)
    return out


def train_anomaly(
    x: Matrix,
    times_ms: npt.NDArray[np.int64],
    y: npt.NDArray[np.int8] | None = None,
    *,
    seed: int = 7,
    contamination: float = 0.005,
    reviews_per_day: float = 20.0,
    n_trees: int = 30,
    height: int = 8,
) -> tuple[str, bytes, dict[str, Any]]:
    """Fit the anomaly model on a history's features; returns (version, model bytes, manifest).

    No labels are needed. When some are known (``y``), the card says how well the
    anomaly score ranks them (AUC, AP): the figures to beat before switching to
    the supervised model. Decisions: the review-capacity policy on the training
    window's scores, never a block (an unusual payment is reviewed, not refused,
    until labels say what fraud looks like).
    """
    import hashlib
    from datetime import UTC, datetime

    from sklearn.metrics import average_precision_score, roc_auc_score

    from models.decision_policy import fit_policy
    from models.reference import reference_distributions

    model = AnomalyModel.fit(x, seed=seed, n_trees=n_trees, height=height, contamination=contamination)
    body = model.to_json()
    p = np.concatenate([model.predict_proba(x[i : i + 5000]) for i in range(0, len(x), 5000)])
    days = max(1.0, float(times_ms[-1] - times_ms[0]) / 86_400_000) if len(times_ms) else 1.0
    policy = fit_policy(p, days=days, block_precision=2.0, reviews_per_day=reviews_per_day, elevated=0)
    policy.update(block_from=101, expected_blocks_per_day=0.0, expected_block_precision=None)
    policy["expected_review_precision"] = None  # the probability is not calibrated: no precision
    metrics: dict[str, Any] = {"train_rows": len(x), "anomaly_window": model.window}
    if y is not None and 0 < int(np.sum(y)) < len(y):
        metrics["known_frauds"] = int(np.sum(y))
        metrics["known_frauds_auc_roc"] = float(roc_auc_score(y, p))
        metrics["known_frauds_average_precision"] = float(average_precision_score(y, p))
    now = datetime.now(UTC)
    version = f"{now:%Y%m%d-%H%M%S}-{hashlib.sha256(body).hexdigest()[:8]}"
    manifest = {
        "kind": KIND,
        "format": ANOMALY_FORMAT,
        "created_at": now.isoformat(),
        "feature_names": list(FEATURE_NAMES),
        "anomaly": {
            "features": list(model.names),
            "n_trees": n_trees,
            "height": height,
            "contamination": contamination,
            "seed": seed,
        },
        "decision_policy": policy,
        "metrics": metrics,
        "reference": {"score_window": "training", **reference_distributions(x, FEATURE_NAMES, scores=p)},
    }
    return version, body, manifest
