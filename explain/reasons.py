"""Plain-language reasons from SHAP contributions.

Each catalogue feature has a template that states the value against the
entity's own normal where the store knows it ("4.2× this card's 30-day average
of 12.00 EUR"). Reasons are the features that raised the risk most, largest
first; every reason names its feature, value and signed contribution.

>>> row = {"amount": 240.0, "card_amount_avg_30d": 20.0, "amount_to_card_avg_30d": 12.0}
>>> reason_text("amount_to_card_avg_30d", row, "EUR")
"240.00 EUR is 12.0× this card's 30-day average of 20.00 EUR"
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from features.catalogue import FEATURE_NAMES

Row = Mapping[str, float]
CHANNELS = {0: "online (card not present)", 1: "in person", 2: "at an ATM", 3: "person to person"}


def _num(row: Row, name: str) -> float:
    return row.get(name, math.nan)


def _plural(n: float, word: str) -> str:
    k = int(n)
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return _plural(seconds // size, unit)
    return _plural(max(seconds, 0), "second")


def _avg_ratio(row: Row, cur: str) -> str:
    ratio, avg = _num(row, "amount_to_card_avg_30d"), _num(row, "card_amount_avg_30d")
    if math.isnan(ratio):
        return "No earlier payments on this card in 30 days to compare the amount with"
    return f"{_num(row, 'amount'):,.2f} {cur} is {ratio:.1f}× this card's 30-day average of {avg:,.2f} {cur}"


def _since_previous(row: Row, cur: str) -> str:
    gap = _num(row, "card_seconds_since_previous")
    if math.isnan(gap):
        return "First payment seen on this card in 30 days"
    return f"Previous payment on this card was {_duration(gap)} earlier"


def _mismatch(what: str) -> Callable[[Row, str], str]:
    name = f"card_{what}_country_mismatch"
    label = {"merchant": "the merchant", "ip": "the IP address"}[what]

    def text(row: Row, cur: str) -> str:
        v = _num(row, name)
        if math.isnan(v):
            return f"Country of the card or {label} unknown"
        return f"Card's country differs from {label}'s" if v else f"Card's country matches {label}'s"

    return text


TEMPLATES: dict[str, Callable[[Row, str], str]] = {
    "amount": lambda r, c: f"Amount of {_num(r, 'amount'):,.2f} {c}",
    "card_count_1h": lambda r, c: (
        f"{_plural(_num(r, 'card_count_1h'), 'earlier payment')} on this card in the last hour"
    ),
    "card_amount_sum_1h": lambda r, c: (
        f"{_num(r, 'card_amount_sum_1h'):,.2f} {c} spent on this card in the last hour"
    ),
    "card_count_24h": lambda r, c: (
        f"{_plural(_num(r, 'card_count_24h'), 'earlier payment')} on this card in the last 24 hours"
    ),
    "card_amount_sum_24h": lambda r, c: (
        f"{_num(r, 'card_amount_sum_24h'):,.2f} {c} spent on this card in the last 24 hours"
    ),
    "card_count_30d": lambda r, c: (
        f"{_plural(_num(r, 'card_count_30d'), 'earlier payment')} on this card in 30 days"
    ),
    "card_amount_avg_30d": _avg_ratio,
    "amount_to_card_avg_30d": _avg_ratio,
    "card_seconds_since_previous": _since_previous,
    "merchant_count_1h": lambda r, c: (
        f"{_plural(_num(r, 'merchant_count_1h'), 'payment')} at this merchant in the last hour"
    ),
    "merchant_count_24h": lambda r, c: (
        f"{_plural(_num(r, 'merchant_count_24h'), 'payment')} at this merchant in the last 24 hours"
    ),
    "card_merchant_country_mismatch": _mismatch("merchant"),
    "card_ip_country_mismatch": _mismatch("ip"),
    "local_hour": lambda r, c: f"Paid at {int(_num(r, 'local_hour')):02d}:00 local time",
    "is_weekend": lambda r, c: "Paid at the weekend" if _num(r, "is_weekend") else "Paid on a weekday",
    "channel_code": lambda r, c: (
        f"Paid {CHANNELS[int(_num(r, 'channel_code'))]}"
        if not math.isnan(_num(r, "channel_code"))
        else "Payment channel unknown"
    ),
}

# Features that describe one cause: only the strongest of a group is listed.
GROUPS = {"card_amount_avg_30d": "amount_vs_card", "amount_to_card_avg_30d": "amount_vs_card"}


def reason_text(feature: str, row: Row, currency: str) -> str:
    return TEMPLATES[feature](row, currency)


def top_reasons(
    values: npt.NDArray[np.float64],
    contributions: npt.NDArray[np.float64],
    currency: str,
    k: int,
) -> list[dict[str, Any]]:
    """The ``k`` features that raised this row's risk most, one per cause.

    Each is a dict in the ``Reason`` shape (plain, as it runs for every event).
    """
    return _strongest(values, contributions, currency, k, raising=True)


def lowering_reasons(
    values: npt.NDArray[np.float64],
    contributions: npt.NDArray[np.float64],
    currency: str,
    k: int,
    besides: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The ``k`` features that lowered this row's risk most (negative contributions),
    leaving out the causes already given in ``besides`` (the raising reasons)."""
    taken = {GROUPS.get(r["feature"], r["feature"]) for r in besides}
    return _strongest(values, contributions, currency, k, raising=False, taken=taken)


def _strongest(
    values: npt.NDArray[np.float64],
    contributions: npt.NDArray[np.float64],
    currency: str,
    k: int,
    raising: bool,
    taken: set[str] | None = None,
) -> list[dict[str, Any]]:
    if k <= 0:
        return []
    row = dict(zip(FEATURE_NAMES, values.tolist(), strict=True))
    signed = contributions if raising else -contributions
    out: list[dict[str, Any]] = []
    used: set[str] = set(taken or ())
    for j in np.argsort(-signed, kind="stable")[: k + len(GROUPS) + len(used)].tolist():
        name = FEATURE_NAMES[j]
        group = GROUPS.get(name, name)
        if signed[j] <= 0 or len(out) >= k:
            break
        if group in used:
            continue
        used.add(group)
        v = row[name]
        out.append(
            {
                "feature": name,
                "value": None if math.isnan(v) else v,
                "contribution": float(contributions[j]),
                "text": reason_text(name, row, currency),
            }
        )
    return out


def check_catalogue(names: Sequence[str] = FEATURE_NAMES) -> None:
    """Fail fast if a feature has no template (run by the tests)."""
    missing = [n for n in names if n not in TEMPLATES]
    if missing:
        raise KeyError(f"no reason template for {missing}")
