"""Raw window aggregates, as the online store and the offline engine produce them.

Both sides produce the same space-separated string per event (format in
docs/redis-keys.md), so the parse below is the single point where they meet.

>>> a = parse_aggregates(["1 250000 2 500000 4 900000 1000 0 3 5"])
>>> a.shape, float(a[0, CARD_UNITS_24H]), float(a[0, HISTORY_SINCE])
((1, 10), 500000.0, 5.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

(
    CARD_COUNT_1H,
    CARD_UNITS_1H,
    CARD_COUNT_24H,
    CARD_UNITS_24H,
    CARD_COUNT_30D,
    CARD_UNITS_30D,
    CARD_PREVIOUS_MS,
    MERCHANT_COUNT_1H,
    MERCHANT_COUNT_24H,
    HISTORY_SINCE,
) = range(10)
AGGREGATE_COUNT = 10

Aggregates = npt.NDArray[np.float64]


def format_aggregates(values: Sequence[float | None]) -> str:
    """The store's string form: integers, ``""`` for none."""
    return " ".join("" if v is None else str(int(v)) for v in values)


def parse_aggregates(rows: Sequence[str | bytes]) -> Aggregates:
    """Parse stored aggregate strings into an ``n × 10`` array (NaN for none)."""
    out = np.full((len(rows), AGGREGATE_COUNT), np.nan)
    for i, row in enumerate(rows):
        text = row.decode() if isinstance(row, bytes) else row
        parts = text.split(" ")
        if len(parts) != AGGREGATE_COUNT:
            raise ValueError(f"malformed aggregates {text!r}: expected {AGGREGATE_COUNT} fields")
        out[i] = [float(p) if p else np.nan for p in parts]
    return out
