"""A payment's features against the entity's own normal, for the payment page.

A short window's count or sum is compared with the entity's 30-day figure scaled to
the window (``card_count_1h`` against ``card_count_30d`` × 1 h / 30 d); the amount
with the card's 30-day average and spread. Features with no such twin are shown alone.

>>> rows = feature_rows({"amount": {"value": 900.0, "complete": True},
...     "card_amount_avg_30d": {"value": 60.0, "complete": True},
...     "card_amount_std_30d": {"value": 20.0, "complete": True}}, ["amount"])
>>> rows[0]["feature"], rows[0]["normal"]
('amount', '60.00 ± 20.00')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from features.windows import WINDOWS

_WINDOW_S = {w.name: w.length_ms // 1000 for w in WINDOWS}
#: The longest window (30 days), the entity's normal that the shorter ones are scaled from.
_MONTH = max(WINDOWS, key=lambda w: w.length_ms).name
_SHORTER = "|".join(w.name for w in WINDOWS if w.name != _MONTH)
_WINDOWED = re.compile(rf"^(\w+?)_(count|amount_sum)_({_SHORTER})$")
#: Shown for every payment: the amount and the card's recent activity.
ALWAYS = ("amount", "card_count_1h", "card_count_24h", "card_amount_sum_24h", "card_distinct_merchants_24h")


def _fmt(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"


def _normal(name: str, values: Mapping[str, Any]) -> str | None:
    if name == "amount":
        avg, std = values.get("card_amount_avg_30d"), values.get("card_amount_std_30d")
        if isinstance(avg, int | float):
            return _fmt(avg) + (f" ± {_fmt(std)}" if isinstance(std, int | float) else "")
        return None
    match = _WINDOWED.match(name)
    if match is None:
        return None
    entity, kind, window = match.groups()
    month = values.get(f"{entity}_{kind}_{_MONTH}")
    if not isinstance(month, int | float):
        return None
    return _fmt(month * _WINDOW_S[window] / _WINDOW_S[_MONTH]) + " (30-day rate)"


def feature_rows(features: Mapping[str, Mapping[str, Any]], first: Iterable[str]) -> list[dict[str, Any]]:
    """The reasons' features, then the usual ones: value, complete flag, the entity's normal."""
    values = {name: f.get("value") for name, f in features.items()}
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys([*first, *ALWAYS]):
        if name not in features:
            continue
        value = values[name]
        rows.append(
            {
                "feature": name,
                "value": _fmt(value) if isinstance(value, int | float) else ("—" if value is None else value),
                "complete": bool(features[name].get("complete", True)),
                "normal": _normal(name, values) or "—",
            }
        )
    return rows
