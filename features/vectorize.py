"""Turn transactions plus their raw aggregates into the model's feature matrix.

This is the one place where features are derived, for the worker, training
and backfill alike, so they cannot drift apart. Missing values are NaN, which
XGBoost treats natively as "unknown" rather than as zero; an optional entity
the payment does not name (no device, IP, email or customer) gives NaN, not 0.
Everything below is column arithmetic on the whole batch (numpy), except the
few event fields read from each transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from contracts.records import Channel, Transaction
from features import aggregates as agg
from features.catalogue import AMOUNT_UNITS, FEATURE_INDEX, FEATURE_NAMES, FEATURES
from features.windows import DISTINCT_WINDOWS, FIRST_SEEN, LABEL_WINDOWS, LABELLED

CHANNEL_CODES = {Channel.ECOM: 0.0, Channel.POS: 1.0, Channel.ATM: 2.0, Channel.P2P: 3.0}
_WINDOWS = np.array([f.window_ms or 0 for f in FEATURES], dtype=np.float64)
_BUCKETS = np.array([f.bucket_ms or 1 for f in FEATURES], dtype=np.float64)
_HISTORY = _WINDOWS > 0
# Raw count/units columns → feature columns, for the 60 per-entity window features.
_COUNT_SRC = [agg.RAW_INDEX[f"{e}_n_{w}"] for e in agg.COUNTED for w, _, _ in agg.WINDOWS]
_COUNT_DST = [FEATURE_INDEX[f"{e}_count_{w}"] for e in agg.COUNTED for w, _, _ in agg.WINDOWS]
_UNITS_SRC = [agg.RAW_INDEX[f"{e}_u_{w}"] for e in agg.COUNTED for w, _, _ in agg.WINDOWS]
_UNITS_DST = [FEATURE_INDEX[f"{e}_amount_sum_{w}"] for e in agg.COUNTED for w, _, _ in agg.WINDOWS]
_DISTINCT_SRC = [agg.RAW_INDEX[f"{d}_{w}"] for d, _ in agg.DISTINCT for w in DISTINCT_WINDOWS]
_DISTINCT_DST = [
    FEATURE_INDEX[f"{e}_distinct_{d.split('_')[1]}_{w}"] for d, e in agg.DISTINCT for w in DISTINCT_WINDOWS
]


@dataclass(frozen=True)
class FeatureMatrix:
    """Feature values (``n × features``, NaN = unknown) and their completeness."""

    values: npt.NDArray[np.float64]
    complete: npt.NDArray[np.bool_]

    def record(self, row: int) -> dict[str, dict[str, float | bool | None]]:
        """One row as the decision record's ``features`` field (``FeatureValue`` shape).

        Plain dicts, not models: this runs for every feature of every event.
        """
        values = self.values[row].tolist()
        complete = self.complete[row].tolist()
        return {
            name: {"value": None if v != v else v, "complete": c}
            for name, v, c in zip(FEATURE_NAMES, values, complete, strict=True)
        }


def amount_units(amount: float) -> int:
    """An amount in the store's integer units (1/10,000)."""
    return round(amount * AMOUNT_UNITS)


def amount_cents(amount: float) -> int:
    """An amount in cents (the card's sum of squares is kept in cents²)."""
    return round(amount * 100)


def _mismatch(a: str | None, b: str | None) -> float:
    return np.nan if a is None or b is None else float(a != b)


def vectorize(transactions: Sequence[Transaction], raw: agg.Aggregates) -> FeatureMatrix:
    """Build the feature matrix of a batch from its events and raw aggregates."""
    n = len(transactions)
    x = np.full((n, len(FEATURE_NAMES)), np.nan)
    col = FEATURE_INDEX
    times = np.empty(n)
    amounts = np.empty(n)
    for i, t in enumerate(transactions):
        local = t.occurred_at
        times[i] = t.occurred_ms
        amounts[i] = t.amount
        x[i, col["card_merchant_country_mismatch"]] = _mismatch(t.card_country, t.merchant_country)
        x[i, col["card_ip_country_mismatch"]] = _mismatch(t.card_country, t.ip_country)
        x[i, col["merchant_ip_country_mismatch"]] = _mismatch(t.merchant_country, t.ip_country)
        x[i, col["local_hour"]] = local.hour
        x[i, col["is_weekend"]] = float(local.weekday() >= 5)
        x[i, col["channel_code"]] = np.nan if t.channel is None else CHANNEL_CODES[t.channel]
    x[:, col["amount"]] = amounts

    r = agg.RAW_INDEX
    x[:, _COUNT_DST] = raw[:, _COUNT_SRC]
    x[:, _UNITS_DST] = raw[:, _UNITS_SRC] / AMOUNT_UNITS
    x[:, _DISTINCT_DST] = raw[:, _DISTINCT_SRC]
    n30 = raw[:, r["card_n_30d"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        some = n30 > 0
        avg = np.where(some, raw[:, r["card_u_30d"]] / AMOUNT_UNITS / n30, np.nan)
        # Mean of squares in currency units² (kept in cents²), then the population variance.
        var = np.where(some, raw[:, r["card_cents2_30d"]] / 1e4 / n30, np.nan) - avg * avg
        std = np.where(n30 >= 2, np.sqrt(np.maximum(var, 0.0)), np.nan)
        x[:, col["card_amount_avg_30d"]] = avg
        x[:, col["card_amount_std_30d"]] = std
        x[:, col["amount_to_card_avg_30d"]] = amounts / avg
        # A card whose amounts never vary has no z-score (division by zero → NaN below).
        x[:, col["amount_zscore_card_30d"]] = (amounts - avg) / np.where(std > 0, std, np.nan)
        for e in LABELLED:
            for w in LABEL_WINDOWS:
                frauds = raw[:, r[f"{e}_fraud_{w}"]]
                x[:, col[f"{e}_fraud_count_{w}"]] = frauds
                payments = raw[:, r[f"{e}_n_{w}"]]
                x[:, col[f"{e}_fraud_rate_{w}"]] = np.where(payments > 0, frauds / payments, np.nan)
    x[:, col["card_seconds_since_previous"]] = (times - raw[:, r["card_previous_ms"]]) / 1000.0
    for e in FIRST_SEEN:
        x[:, col[f"{e}_seconds_since_first"]] = (times - raw[:, r[f"{e}_first_ms"]]) / 1000.0

    # Ratios over tiny averages can overflow: unknown, not infinite, to the model.
    x[~np.isfinite(x)] = np.nan

    # A window is complete when the store's history reaches back over all of it
    # (from the start of the event's own bucket) and the event was not late.
    starts = np.floor(times[:, None] / _BUCKETS[None, :]) * _BUCKETS[None, :] - _WINDOWS[None, :]
    complete = starts >= raw[:, agg.HISTORY_SINCE][:, None]
    complete &= (raw[:, agg.LATE] != 1)[:, None] | ~_HISTORY[None, :]
    complete[:, ~_HISTORY] = True
    return FeatureMatrix(values=x, complete=complete)
