"""Turn transactions plus their raw aggregates into the model's feature matrix.

This is the one place where features are derived, for the worker, training
and backfill alike, so they cannot drift apart. Missing values are NaN, which
XGBoost treats natively as "unknown" rather than as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from contracts.records import Channel, Transaction
from features import aggregates as agg
from features.catalogue import AMOUNT_UNITS, FEATURE_INDEX, FEATURE_NAMES, FEATURES

CHANNEL_CODES = {Channel.ECOM: 0.0, Channel.POS: 1.0, Channel.ATM: 2.0, Channel.P2P: 3.0}
_WINDOWS = np.array([f.window_ms or 0 for f in FEATURES], dtype=np.float64)


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


def _mismatch(a: str | None, b: str | None) -> float:
    return np.nan if a is None or b is None else float(a != b)


def vectorize(transactions: Sequence[Transaction], raw: agg.Aggregates) -> FeatureMatrix:
    """Build the feature matrix of a batch from its events and raw aggregates."""
    n = len(transactions)
    x = np.full((n, len(FEATURE_NAMES)), np.nan)
    col = FEATURE_INDEX
    times = np.empty(n)
    for i, t in enumerate(transactions):
        local = t.occurred_at
        times[i] = t.occurred_ms
        x[i, col["amount"]] = t.amount
        x[i, col["card_merchant_country_mismatch"]] = _mismatch(t.card_country, t.merchant_country)
        x[i, col["card_ip_country_mismatch"]] = _mismatch(t.card_country, t.ip_country)
        x[i, col["local_hour"]] = local.hour
        x[i, col["is_weekend"]] = float(local.weekday() >= 5)
        x[i, col["channel_code"]] = np.nan if t.channel is None else CHANNEL_CODES[t.channel]

    units = AMOUNT_UNITS
    x[:, col["card_count_1h"]] = raw[:, agg.CARD_COUNT_1H]
    x[:, col["card_amount_sum_1h"]] = raw[:, agg.CARD_UNITS_1H] / units
    x[:, col["card_count_24h"]] = raw[:, agg.CARD_COUNT_24H]
    x[:, col["card_amount_sum_24h"]] = raw[:, agg.CARD_UNITS_24H] / units
    x[:, col["card_count_30d"]] = raw[:, agg.CARD_COUNT_30D]
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(
            raw[:, agg.CARD_COUNT_30D] > 0,
            raw[:, agg.CARD_UNITS_30D] / units / raw[:, agg.CARD_COUNT_30D],
            np.nan,
        )
        x[:, col["card_amount_avg_30d"]] = avg
        x[:, col["amount_to_card_avg_30d"]] = x[:, col["amount"]] / avg
    x[:, col["card_seconds_since_previous"]] = (times - raw[:, agg.CARD_PREVIOUS_MS]) / 1000.0
    x[:, col["merchant_count_1h"]] = raw[:, agg.MERCHANT_COUNT_1H]
    x[:, col["merchant_count_24h"]] = raw[:, agg.MERCHANT_COUNT_24H]

    # Ratios over tiny averages can overflow: unknown, not infinite, to the model.
    x[~np.isfinite(x)] = np.nan

    # A window is complete when the store's history reaches back over all of it.
    starts = times[:, None] - _WINDOWS[None, :]
    complete = starts >= raw[:, agg.HISTORY_SINCE][:, None]
    complete[:, _WINDOWS == 0] = True
    return FeatureMatrix(values=x, complete=complete)
