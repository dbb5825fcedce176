"""Training the batch model from history files, with the serving feature code.

Features come from ``OfflineFeatureEngine`` + ``vectorize`` — the same feature kernel
the worker runs over its Redis state — so the model trains on what it will see live.

Labels arrive late (a chargeback takes days to weeks), so the split respects
what was *knowable* at a cutoff time (``time_split``)::

    ──────── train ────────┼── validation ──┼── too young ──┤ cutoff
                           valid_from       mature_until

* an event counts as fraud only if its fraud label was reported by the cutoff;
* events younger than ``maturity`` before the cutoff are left out altogether:
  their chargebacks are not in yet, so "no label" would mostly mean "not yet";
* the last mature stretch (by event time) validates: it stops the boosting
  early and fits the probability calibration (``models.calibration``).

Fraud is rare, so positives are up-weighted (``scale_pos_weight``) and the
calibration maps the inflated margin back to frequencies. Same inputs and seed
give the same model bytes and manifest (apart from ``created_at``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from contracts.identity import event_ref
from contracts.records import Label, LabelKind, Transaction
from features.catalogue import DAY_MS, FEATURE_NAMES
from features.event_time import in_event_time
from features.offline import OfflineFeatureEngine
from features.vectorize import vectorize
from models.calibration import fit_isotonic, reliability_error, sigmoid
from models.decision_policy import fit_policy
from models.fit_progress import RoundProgress
from models.label_delay import LabelDelay
from models.reference import reference_distributions
from models.search import GRID, search

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    # The last metric drives early stopping: AUC-PR ranks, so up-weighting does not bias it.
    "eval_metric": ["logloss", "aucpr"],
    "max_depth": 4,
    "eta": 0.1,
    "subsample": 0.9,
    "colsample_bytree": 0.9,
    "min_child_weight": 2,
    "tree_method": "hist",
    # Fine bins: with the default 256, a bin near the top of the amounts spans
    # tens of units, and a sharp amount rule cannot be split where it is.
    "max_bin": 1024,
}

#: A label reported at this time is never known: "no fraud label".
NEVER = np.iinfo(np.int64).max
MAX_MATURITY_MS = 30 * DAY_MS
#: Up-weighting beyond this gains little ranking and makes the trees noisy. (10
#: learnt the benchmark's amount rule a little better, but calibrated less stably
#: across seeds and subsets: tests/models/test_training.py.)
MAX_POS_WEIGHT = 50.0


@dataclass
class TrainingSet:
    """Features, fraud labels and event times, one row per event in event-time order.

    ``fraud_reported_ms[i]`` is when row ``i`` became known as fraud (``NEVER`` if
    it did not); without it a label counts as known from the event's own time.
    """

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int8]
    times_ms: npt.NDArray[np.int64]
    fraud_reported_ms: npt.NDArray[np.int64] | None = None

    def labels_at(self, cutoff_ms: int) -> npt.NDArray[np.int8]:
        """Fraud labels as known at ``cutoff_ms``."""
        known = self.times_ms if self.fraud_reported_ms is None else self.fraud_reported_ms
        out: npt.NDArray[np.int8] = ((self.y == 1) & (known <= cutoff_ms)).astype(np.int8)
        return out

    def last_label_ms(self) -> int | None:
        if self.fraud_reported_ms is None:
            return None
        reported = self.fraud_reported_ms[self.fraud_reported_ms != NEVER]
        return int(reported.max()) if len(reported) else None


@dataclass(frozen=True)
class TimeSplit:
    """Which rows train and which validate, for labels as known at ``cutoff_ms``."""

    cutoff_ms: int
    maturity_ms: int
    train: slice
    valid: slice
    y: npt.NDArray[np.int8]  # every row's label as known at the cutoff
    immature_rows: int


@dataclass
class TrainingResult:
    version: str
    model_bytes: bytes
    manifest: dict[str, Any] = field(default_factory=dict)


def build_training_set(
    transactions: Iterable[Transaction],
    labels: Iterable[Label],
    progress: Callable[[int], None] | None = None,
    chunk: int = 500,
    grace_ms: int = 3_600_000,
) -> TrainingSet:
    """Point-in-time features and fraud labels (with when they were reported) per event.

    ``chunk`` is the micro-batch of the replay it mirrors, ``grace_ms`` the
    worker's late grace (``RISKWIRE_LATE_GRACE_S``), so features match serving.
    """
    labels = sorted(labels, key=lambda lab: lab.reported_at)
    fraud_since = _fraud_since(labels)
    # First occurrence of each event id, in event-time order (stable for ties).
    first = {event_ref(t.account_id, t.event_id): t for t in reversed(list(transactions))}
    unique = sorted(reversed(list(first.values())), key=lambda t: t.occurred_ms)
    engine = OfflineFeatureEngine(grace_ms=grace_ms)
    parts = []
    for due, batch in in_event_time(unique, labels, chunk):
        if due:
            engine.record_labels(due)
        parts.append(vectorize(batch, engine.record(batch)).values)
        if progress:
            progress(len(batch))
    x = np.vstack(parts) if parts else np.empty((0, len(FEATURE_NAMES)))
    reported = np.array(
        [fraud_since.get(event_ref(t.account_id, t.event_id), NEVER) for t in unique], dtype=np.int64
    )
    y = (reported != NEVER).astype(np.int8)
    times = np.array([t.occurred_ms for t in unique], dtype=np.int64)
    return TrainingSet(x=x, y=y, times_ms=times, fraud_reported_ms=reported)


def _fraud_since(labels: list[Label]) -> dict[str, int]:
    """Event reference → when it became fraud, for events whose latest label says fraud.

    Labels in ``reported_at`` order: a later ``legit`` (say, a won dispute) clears
    an earlier ``fraud``; repeated ``fraud`` labels keep the first report.
    """
    since: dict[str, int] = {}
    for lab in labels:
        if lab.label is LabelKind.FRAUD:
            since.setdefault(event_ref(lab.account_id, lab.event_id), int(lab.reported_at.timestamp() * 1000))
        else:
            since.pop(event_ref(lab.account_id, lab.event_id), None)
    return since


def default_maturity_ms(span_ms: int) -> int:
    """A fifth of the history, at most 30 days: long enough for most chargebacks,
    short enough to leave a short history something to train on."""
    return int(min(MAX_MATURITY_MS, span_ms // 5))


def time_split(
    data: TrainingSet,
    *,
    cutoff_ms: int | None = None,
    maturity_ms: int | None = None,
    validation_share: float = 0.2,
) -> TimeSplit:
    """Train and validation rows for labels as known at the cutoff.

    ``cutoff_ms`` defaults to the later of the last event and the last label
    report; ``maturity_ms`` to ``default_maturity_ms`` of the history's span.
    """
    n = len(data.times_ms)
    if n == 0:
        raise ValueError("too little history to train: 0 events, 0 frauds")
    end = int(data.times_ms[-1])
    if cutoff_ms is None:
        cutoff_ms = max(end, data.last_label_ms() or end)
    if maturity_ms is None:
        maturity_ms = default_maturity_ms(end - int(data.times_ms[0]))
    mature = int(np.searchsorted(data.times_ms, cutoff_ms - maturity_ms, side="right"))
    cut = int(mature * (1 - validation_share))
    return TimeSplit(
        cutoff_ms=cutoff_ms,
        maturity_ms=maturity_ms,
        train=slice(0, cut),
        valid=slice(cut, mature),
        y=data.labels_at(cutoff_ms),
        immature_rows=n - mature,
    )


def train(
    data: TrainingSet,
    *,
    seed: int = 7,
    validation_share: float = 0.2,
    rounds: int = 500,
    cutoff_ms: int | None = None,
    maturity_ms: int | None = None,
    pos_weight: float | None = None,
    round_progress: Callable[[int], None] | None = None,
    grid: tuple[dict[str, Any], ...] = GRID,
    block_precision: float = 0.9,
    reviews_per_day: float = 20.0,
    elevated: int = 65,
) -> TrainingResult:
    """Fit on the earlier mature history, validate and calibrate on the later part.

    ``round_progress(1)`` is called after each boosting round (at most ``rounds``).

    ``pos_weight`` defaults to negatives/positives of the training rows (at most
    ``MAX_POS_WEIGHT``); ``1.0`` turns the up-weighting off. ``grid``: the tree
    shapes tried (``models.search``); ``block_precision``, ``reviews_per_day`` and
    ``elevated`` fit the review-capacity decision policy (``models.decision_policy``).
    """
    split = time_split(data, cutoff_ms=cutoff_ms, maturity_ms=maturity_ms, validation_share=validation_share)
    y_train, y_valid = split.y[split.train], split.y[split.valid]
    n, frauds = len(y_train) + len(y_valid), int(y_train.sum() + y_valid.sum())
    if n < 100 or frauds < 5:
        raise ValueError(f"too little history to train: {n} events, {frauds} frauds")
    if not 0 < y_valid.sum() < len(y_valid):
        raise ValueError(
            f"the validation window ({len(y_valid)} events) needs frauds and legitimate payments "
            f"({int(y_valid.sum())} frauds): give more history or a later cutoff"
        )
    if pos_weight is None:
        pos_weight = min(MAX_POS_WEIGHT, float((len(y_train) - y_train.sum()) / max(1, y_train.sum())))
    params = {**DEFAULT_PARAMS, "seed": seed, "scale_pos_weight": pos_weight}
    names = list(FEATURE_NAMES)
    x_train, x_valid = data.x[split.train], data.x[split.valid]
    train_m = xgb.DMatrix(x_train, label=y_train, feature_names=names, missing=np.nan)
    valid_m = xgb.DMatrix(x_valid, label=y_valid, feature_names=names, missing=np.nan)
    callbacks = [RoundProgress(round_progress)] if round_progress else None
    best, params, trials = search(params, train_m, valid_m, rounds=rounds, grid=grid, callbacks=callbacks)
    margin = np.asarray(best.predict(valid_m, output_margin=True), dtype=np.float64)
    delay = label_delay(data, split)
    ages_days = (split.cutoff_ms - data.times_ms) / DAY_MS
    calibration = fit_isotonic(margin, y_valid, fraud_weight=delay.weights(ages_days[split.valid]))
    p = calibration.apply(margin)
    valid_days = (data.times_ms[split.valid.stop - 1] - data.times_ms[split.valid.start]) / DAY_MS
    policy = fit_policy(
        p,
        days=valid_days,
        block_precision=block_precision,
        reviews_per_day=reviews_per_day,
        elevated=elevated,
    )
    model_bytes = bytes(best.save_raw(raw_format="json"))
    now = datetime.now(UTC)
    version = f"{now:%Y%m%d-%H%M%S}-{hashlib.sha256(model_bytes).hexdigest()[:8]}"
    times = data.times_ms
    mature = slice(0, split.valid.stop)
    manifest = {
        "kind": "xgboost",
        "format": "json",
        "created_at": now.isoformat(),
        "feature_names": names,
        "data_range": {"from": _iso(int(times[0])), "to": _iso(int(times[-1]))},
        "validation_from": _iso(int(times[split.valid.start])),
        "validation_to": _iso(int(times[split.valid.stop - 1])),
        "labels": {
            "cutoff": _iso(split.cutoff_ms),
            "maturity_days": split.maturity_ms / DAY_MS,
            "mature_until": _iso(split.cutoff_ms - split.maturity_ms),
            "immature_rows_excluded": split.immature_rows,
            # Frauds in the mature window whose label came after the cutoff: trained as legit.
            "frauds_reported_after_cutoff": int(data.y[mature].sum() - split.y[mature].sum()),
        },
        "params": params,
        "search": trials,
        "decision_policy": policy,
        "metrics": {
            **_metrics(y_train, y_valid, margin, p, int(best.num_boosted_rounds())),
            # Frauds per payment once every label is in: known frauds weighted 1 / F(age).
            "train_fraud_rate_estimated": float(
                (y_train * delay.weights(ages_days[split.train])).sum() / max(1, len(y_train))
            ),
            "validation_label_completeness": float(delay.completeness(ages_days[split.valid]).mean()),
        },
        "label_delay": delay.to_manifest(),
        "calibration": calibration.to_manifest(),
        "reference": {
            "features_window": {"from": _iso(int(times[0])), "to": _iso(int(times[split.valid.stop - 1]))},
            "score_window": "validation",  # out of sample: in-sample scores look too sure
            **reference_distributions(data.x[mature], names, scores=p),
        },
        "xgboost_version": xgb.__version__,
    }
    return TrainingResult(version=version, model_bytes=model_bytes, manifest=manifest)


def label_delay(data: TrainingSet, split: TimeSplit) -> LabelDelay:
    """The chargeback delay distribution, from the frauds known at the cutoff."""
    if data.fraud_reported_ms is None:
        return LabelDelay()  # labels without report times: take them as complete
    known = (data.y == 1) & (data.fraud_reported_ms <= split.cutoff_ms)
    delays = (data.fraud_reported_ms[known] - data.times_ms[known]) / DAY_MS
    ages = (split.cutoff_ms - data.times_ms[known]) / DAY_MS
    return LabelDelay.fit(delays, ages)


def _metrics(
    y_train: npt.NDArray[np.int8],
    y_valid: npt.NDArray[np.int8],
    margin: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    trees: int,
) -> dict[str, Any]:
    raw = sigmoid(margin)
    return {
        "validation_auc_roc": float(roc_auc_score(y_valid, margin)),
        "validation_average_precision": float(average_precision_score(y_valid, margin)),
        "validation_log_loss": float(log_loss(y_valid, p, labels=[0, 1])),
        "validation_log_loss_uncalibrated": float(log_loss(y_valid, raw, labels=[0, 1])),
        # In-sample for the calibration (fitted on this window): see the test for held-out.
        "validation_reliability_error": reliability_error(p, y_valid),
        "validation_reliability_error_uncalibrated": reliability_error(raw, y_valid),
        "validation_rows": len(y_valid),
        "validation_frauds": int(y_valid.sum()),
        "train_rows": len(y_train),
        "train_frauds": int(y_train.sum()),
        "trees": trees,
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()
