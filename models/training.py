"""Training the batch model from history files, with the serving feature code.

Features come from ``OfflineFeatureEngine`` + ``vectorize`` — the twin of what
the worker computes in Redis — so the model trains on what it will see live.
The split is by time: the last part of the history validates and stops the
boosting early, as the model will always score payments newer than its data.
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
from sklearn.metrics import average_precision_score, roc_auc_score

from contracts.records import Label, LabelKind, Transaction
from features.aggregates import parse_aggregates
from features.catalogue import FEATURE_NAMES
from features.offline import OfflineFeatureEngine
from features.vectorize import vectorize

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": ["logloss", "aucpr"],
    "max_depth": 4,
    "eta": 0.1,
    "subsample": 0.9,
    "colsample_bytree": 0.9,
    "min_child_weight": 2,
    "tree_method": "hist",
}


@dataclass
class TrainingSet:
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int8]
    times_ms: npt.NDArray[np.int64]


@dataclass
class TrainingResult:
    version: str
    model_bytes: bytes
    manifest: dict[str, Any] = field(default_factory=dict)


def build_training_set(
    transactions: Iterable[Transaction],
    labels: Iterable[Label],
    progress: Callable[[int], None] | None = None,
    chunk: int = 5000,
) -> TrainingSet:
    """Point-in-time features and fraud labels for every (deduplicated) event."""
    fraud = {lab.event_id for lab in labels if lab.label is LabelKind.FRAUD}
    # First occurrence of each event id, in event-time order (stable for ties).
    first = {t.event_id: t for t in reversed(list(transactions))}
    unique = sorted(reversed(list(first.values())), key=lambda t: t.occurred_ms)
    engine = OfflineFeatureEngine()
    parts = []
    for start in range(0, len(unique), chunk):
        batch = unique[start : start + chunk]
        parts.append(vectorize(batch, parse_aggregates(engine.record_and_fetch(batch))).values)
        if progress:
            progress(len(batch))
    x = np.vstack(parts) if parts else np.empty((0, len(FEATURE_NAMES)))
    y = np.array([t.event_id in fraud for t in unique], dtype=np.int8)
    times = np.array([t.occurred_ms for t in unique], dtype=np.int64)
    return TrainingSet(x=x, y=y, times_ms=times)


def train(
    data: TrainingSet, *, seed: int = 7, validation_share: float = 0.2, rounds: int = 300
) -> TrainingResult:
    """Fit on the earlier part of the history, validate on the later part."""
    n = len(data.y)
    if n < 100 or data.y.sum() < 5:
        raise ValueError(f"too little history to train: {n} events, {int(data.y.sum())} frauds")
    cut = int(n * (1 - validation_share))
    params = {**DEFAULT_PARAMS, "seed": seed}
    names = list(FEATURE_NAMES)
    train_m = xgb.DMatrix(data.x[:cut], label=data.y[:cut], feature_names=names, missing=np.nan)
    valid_m = xgb.DMatrix(data.x[cut:], label=data.y[cut:], feature_names=names, missing=np.nan)
    booster = xgb.train(
        params,
        train_m,
        num_boost_round=rounds,
        evals=[(valid_m, "validation")],
        early_stopping_rounds=30,
        verbose_eval=False,
    )
    best = booster[: booster.best_iteration + 1]
    p = best.predict(valid_m)
    y_valid = data.y[cut:]
    metrics = {
        "validation_auc_roc": float(roc_auc_score(y_valid, p)) if 0 < y_valid.sum() < len(y_valid) else None,
        "validation_average_precision": float(average_precision_score(y_valid, p)) if y_valid.sum() else None,
        "validation_rows": len(y_valid),
        "validation_frauds": int(y_valid.sum()),
        "train_rows": int(cut),
        "train_frauds": int(data.y[:cut].sum()),
        "trees": int(booster.best_iteration + 1),
    }
    model_bytes = bytes(best.save_raw(raw_format="json"))
    now = datetime.now(UTC)
    version = f"{now:%Y%m%d-%H%M%S}-{hashlib.sha256(model_bytes).hexdigest()[:8]}"

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat()

    manifest = {
        "kind": "xgboost",
        "format": "json",
        "created_at": now.isoformat(),
        "feature_names": names,
        "data_range": {"from": iso(int(data.times_ms[0])), "to": iso(int(data.times_ms[-1]))},
        "validation_from": iso(int(data.times_ms[cut])),
        "params": params,
        "metrics": metrics,
        "xgboost_version": xgb.__version__,
    }
    return TrainingResult(version=version, model_bytes=model_bytes, manifest=manifest)
