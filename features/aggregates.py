"""Raw window aggregates, as the online store and the offline engine produce them.

Both sides produce the same space-separated string per event (81 integer
fields, ``""`` for none; docs/redis-keys.md), so the parse below is the single
point where they meet. ``RAW_FIELDS`` names the fields in order.

>>> len(RAW_FIELDS), RAW_INDEX["card_n_1h"], RAW_FIELDS[-2:]
(81, 2, ('history_since_ms', 'late'))
>>> a = parse_aggregates([" ".join(["1"] * 80 + ["0"])])
>>> a.shape, float(a[0, RAW_INDEX["history_since_ms"]])
((1, 81), 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from features import windows as spec

#: Entities with per-window counts and amount sums, in raw order (``features.windows``).
COUNTED: tuple[str, ...] = spec.COUNTED
#: Window names with their bucket size and number of earlier buckets (docs/redis-keys.md).
WINDOWS: tuple[tuple[str, int, int], ...] = tuple((w.name, w.bucket_ms, w.buckets) for w in spec.WINDOWS)
#: Distinct-count families: (raw prefix, owning entity).
DISTINCT: tuple[tuple[str, str], ...] = tuple((d.name, d.entity) for d in spec.DISTINCT)
#: Distinct counts saturate here (per-day lists hold at most this many values).
DISTINCT_CAP = spec.DISTINCT_CAP

RAW_FIELDS: tuple[str, ...] = (
    *(f"{e}_{kind}_{w}" for e in COUNTED for w, _, _ in WINDOWS for kind in ("n", "u")),
    f"{spec.MOMENT_ENTITY}_cents2_{spec.MOMENT_WINDOW}",
    f"{spec.PREVIOUS_ENTITY}_previous_ms",
    *(f"{e}_first_ms" for e in spec.FIRST_SEEN),
    *(f"{d}_{w}" for d, _ in DISTINCT for w in spec.DISTINCT_WINDOWS),
    *(f"{e}_fraud_{w}" for e in spec.LABELLED for w in spec.LABEL_WINDOWS),
    "history_since_ms",
    "late",
)
RAW_INDEX: dict[str, int] = {name: i for i, name in enumerate(RAW_FIELDS)}
AGGREGATE_COUNT = len(RAW_FIELDS)
HISTORY_SINCE = RAW_INDEX["history_since_ms"]
LATE = RAW_INDEX["late"]

Aggregates = npt.NDArray[np.float64]


def format_number(v: float | None) -> str:
    """A raw field as the Lua script writes it (``%.0f``; ``""`` for none).

    >>> format_number(None), format_number(3.0), format_number(2.0**53 + 2)
    ('', '3', '9007199254740994')
    """
    return "" if v is None else format(v, ".0f")


def parse_aggregates(rows: Sequence[str | bytes]) -> Aggregates:
    """Parse stored aggregate strings into an ``n × 81`` array (NaN for none)."""
    out = np.full((len(rows), AGGREGATE_COUNT), np.nan)
    for i, row in enumerate(rows):
        text = row.decode() if isinstance(row, bytes) else row
        parts = text.split(" ")
        if len(parts) != AGGREGATE_COUNT:
            raise ValueError(f"malformed aggregates {text[:80]!r}: expected {AGGREGATE_COUNT} fields")
        out[i] = [float(p) if p else np.nan for p in parts]
    return out


def format_aggregates(raw: Aggregates) -> list[str]:
    """The inverse of :func:`parse_aggregates`: one space-separated string per row.

    >>> format_aggregates(parse_aggregates([" ".join(["7"] * 80 + [""])]))[0][-4:]
    '7 7 '
    """
    return [" ".join("" if v != v else format(v, ".0f") for v in row) for row in raw.tolist()]
