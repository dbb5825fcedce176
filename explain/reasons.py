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
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from features import windows as spec
from features.catalogue import FEATURE_NAMES, SPOKEN, WINDOWS
from features.windows import DISTINCT_CAP

Row = Mapping[str, float]
CHANNELS = {0: "online (card not present)", 1: "in person", 2: "at an ATM", 3: "person to person"}


def _num(row: Row, name: str) -> float:
    return row.get(name, math.nan)


def _known(n: float) -> bool:
    return not math.isnan(n)


def _plural(n: float, word: str) -> str:
    if not _known(n):
        return f"an unknown number of {word}s"
    k = int(n)
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return _plural(seconds // size, unit)
    return _plural(max(seconds, 0), "second")


def _earlier(row: Row) -> bool:
    """Whether the card has earlier payments in 30 days: a missing figure then means
    "not known for this payment" (it arrived late, say), not "none"."""
    n = _num(row, "card_count_30d")
    return _known(n) and n > 0


def _avg_ratio(row: Row, cur: str) -> str:
    ratio, avg = _num(row, "amount_to_card_avg_30d"), _num(row, "card_amount_avg_30d")
    if math.isnan(ratio) and _earlier(row):
        return "This card's 30-day average amount is not known for this payment"
    if math.isnan(ratio):
        return "No earlier payments on this card in 30 days to compare the amount with"
    return f"{_num(row, 'amount'):,.2f} {cur} is {ratio:.1f}× this card's 30-day average of {avg:,.2f} {cur}"


def _since_previous(row: Row, cur: str) -> str:
    gap = _num(row, "card_seconds_since_previous")
    if math.isnan(gap) and _earlier(row):
        # A late payment: its previous one is not known, but the card is not new.
        n = int(_num(row, "card_count_30d"))
        earlier = _plural(n, "earlier payment")
        return f"Time since this card's previous payment not known ({earlier} in 30 days)"
    if math.isnan(gap):
        return "First payment seen on this card in 30 days"
    return f"Previous payment on this card was {_duration(gap)} earlier"


def _mismatch(first: str, second: str, row: Row, cur: str) -> str:
    name = f"{first}_{second}_country_mismatch"
    labels = {"card": "the card", "merchant": "the merchant", "ip": "the IP address"}
    a, b = labels[first], labels[second]
    v = _num(row, name)
    if math.isnan(v):
        return f"Country of {a} or {b} unknown"
    verb = "differs from" if v else "matches"
    return f"{a[4:].capitalize()}'s country {verb} {b}'s"


OWNER = {
    "card": "on this card",
    "customer": "by this customer",
    "merchant": "at this merchant",
    "device": "from this device",
    "ip": "from this IP address",
    "email": "with this email address",
}
ABSENT = {"customer": "customer", "device": "device", "ip": "IP address", "email": "email address"}
MONTH_S = 30 * 86400.0


def _absent(row: Row, entity: str) -> str | None:
    """The text for an optional entity the payment does not name (its counts are NaN)."""
    if entity in ABSENT and math.isnan(_num(row, f"{entity}_count_30d")):
        return f"No {ABSENT[entity]} given with this payment"
    return None


def _usual(row: Row, entity: str, what: str, window: str, money: str | None) -> str:
    """The entity's own normal for a window, from its 30-day figure ("" when unknown)."""
    if window == "30d":
        return ""
    month = _num(row, f"{entity}_{what}_30d")
    if math.isnan(month) or month <= 0:
        return ""
    usual = month * WINDOWS[window][0] / (MONTH_S * 1000)
    shown = f"{usual:,.2f} {money}" if money else f"{usual:.1f}"
    return f" (its 30-day pace: {shown} per {SPOKEN[window]})"


def _count(entity: str, window: str, row: Row, cur: str) -> str:
    name = f"{entity}_count_{window}"
    word = "earlier payment" if entity == "card" else "payment"
    if (none := _absent(row, entity)) is not None:
        return none
    n = _num(row, name)
    return (
        f"{_plural(n, word)} {OWNER[entity]} in the last {SPOKEN[window]}"
        f"{_usual(row, entity, 'count', window, None)}"
    )


def _amount_sum(entity: str, window: str, row: Row, cur: str) -> str:
    name = f"{entity}_amount_sum_{window}"
    if (none := _absent(row, entity)) is not None:
        return none
    if not _known(_num(row, name)):
        return f"Amount spent {OWNER[entity]} in the last {SPOKEN[window]} not known"
    return (
        f"{_num(row, name):,.2f} {cur} spent {OWNER[entity]} in the last {SPOKEN[window]}"
        f"{_usual(row, entity, 'amount_sum', window, cur)}"
    )


DISTINCT_WORDS = {
    "merchants": "different merchants",
    "countries": "different merchant countries",
    "cards": "different cards",
}


def _distinct(entity: str, what: str, window: str, row: Row, cur: str) -> str:
    name = f"{entity}_distinct_{what}_{window}"
    if (none := _absent(row, entity)) is not None:
        return none
    n = _num(row, name)
    if not _known(n):
        words = DISTINCT_WORDS[what].capitalize()
        return f"{words} {OWNER[entity]} in the last {SPOKEN[window]} not known"
    shown = f"{int(n)} or more" if n >= DISTINCT_CAP else str(int(n))
    other = "7d" if window == "24h" else "24h"
    m = _num(row, f"{entity}_distinct_{what}_{other}")
    context = "" if math.isnan(m) else f" ({int(m)} in the last {SPOKEN[other]})"
    return f"{shown} {DISTINCT_WORDS[what]} {OWNER[entity]} in the last {SPOKEN[window]}{context}"


def _fraud(entity: str, kind: str, window: str, row: Row, cur: str) -> str:
    whose = f"this {entity}'s"
    n = _num(row, f"{entity}_fraud_count_{window}")
    payments = _num(row, f"{entity}_count_{window}")
    if kind == "rate":
        if math.isnan(payments) or payments <= 0:
            return f"No earlier payments {OWNER[entity]} in the last {SPOKEN[window]} to compare fraud with"
        rate = _num(row, f"{entity}_fraud_rate_{window}")
        if not (_known(rate) and _known(n)):
            return f"Share of {whose} payments in the last {SPOKEN[window]} reported as fraud not known"
        return (
            f"{rate:.0%} of {whose} payments in the last {SPOKEN[window]} reported as fraud "
            f"({int(n)} of {int(payments)})"
        )
    return f"{_plural(n, 'payment')} {OWNER[entity]} in the last {SPOKEN[window]} reported as fraud"


def _first_seen(entity: str, row: Row, cur: str) -> str:
    if (none := _absent(row, entity)) is not None:
        return none
    age = _num(row, f"{entity}_seconds_since_first")
    what = {"card": "card", "device": "device", "email": "email address"}[entity]
    if math.isnan(age) and entity == "card" and _earlier(row):
        return "Not known when this card was first seen"
    if math.isnan(age):
        return f"First payment seen with this {what}"
    return f"This {what} was first seen {_duration(age)} earlier"


def _spread(row: Row, cur: str) -> str:
    std, avg = _num(row, "card_amount_std_30d"), _num(row, "card_amount_avg_30d")
    if math.isnan(std):
        return "Too few payments on this card in 30 days to know how its amounts vary"
    return f"This card's amounts usually vary by {std:,.2f} {cur} around {avg:,.2f} {cur} (30 days)"


def _zscore(row: Row, cur: str) -> str:
    z, avg = _num(row, "amount_zscore_card_30d"), _num(row, "card_amount_avg_30d")
    if math.isnan(z):
        return "Too few varied payments on this card in 30 days to compare the amount with"
    side = "above" if z >= 0 else "below"
    return (
        f"{_num(row, 'amount'):,.2f} {cur} is {abs(z):.1f} standard deviations {side} "
        f"this card's 30-day average of {avg:,.2f} {cur}"
    )


TEMPLATES: dict[str, Callable[[Row, str], str]] = {
    "amount": lambda r, c: (
        f"Amount of {_num(r, 'amount'):,.2f} {c}" if _known(_num(r, "amount")) else "Amount unknown"
    ),
    **{f"{e}_count_{w}": partial(_count, e, w) for e in OWNER for w in WINDOWS},
    **{f"{e}_amount_sum_{w}": partial(_amount_sum, e, w) for e in OWNER for w in WINDOWS},
    "card_amount_avg_30d": _avg_ratio,
    "amount_to_card_avg_30d": _avg_ratio,
    "card_amount_std_30d": _spread,
    "amount_zscore_card_30d": _zscore,
    "card_seconds_since_previous": _since_previous,
    **{f"{e}_seconds_since_first": partial(_first_seen, e) for e in spec.FIRST_SEEN},
    **{
        f"{d.entity}_distinct_{d.what}_{w}": partial(_distinct, d.entity, d.what, w)
        for d in spec.DISTINCT
        for w in spec.DISTINCT_WINDOWS
    },
    **{
        f"{e}_fraud_{kind}_{w}": partial(_fraud, e, kind, w)
        for e in spec.LABELLED
        for kind in ("count", "rate")
        for w in spec.LABEL_WINDOWS
    },
    "card_merchant_country_mismatch": partial(_mismatch, "card", "merchant"),
    "card_ip_country_mismatch": partial(_mismatch, "card", "ip"),
    "merchant_ip_country_mismatch": partial(_mismatch, "merchant", "ip"),
    "local_hour": lambda r, c: (
        f"Paid at {int(_num(r, 'local_hour')):02d}:00 local time"
        if _known(_num(r, "local_hour"))
        else "Local time of payment unknown"
    ),
    "is_weekend": lambda r, c: (
        "Day of the week unknown"
        if not _known(_num(r, "is_weekend"))
        else "Paid at the weekend"
        if _num(r, "is_weekend")
        else "Paid on a weekday"
    ),
    "channel_code": lambda r, c: (
        f"Paid {CHANNELS[int(_num(r, 'channel_code'))]}"
        if not math.isnan(_num(r, "channel_code"))
        else "Payment channel unknown"
    ),
}


# Runs only at import (GROUPS below), before mutmut 3 can switch a mutant on: not mutated.
def _group(name: str) -> str:  # pragma: no mutate block
    """The cause a feature speaks for: one reason per cause is listed."""
    for entity in OWNER:
        for w in ("10m", "1h", "24h"):
            if name in (f"{entity}_count_{w}", f"{entity}_amount_sum_{w}"):
                return f"{entity}_recent_activity"
        for w in ("7d", "30d"):
            if name in (f"{entity}_count_{w}", f"{entity}_amount_sum_{w}"):
                return f"{entity}_usual_activity"
    if name.startswith(("card_fraud_", "merchant_fraud_")):
        return name.rsplit("_", 2)[0]
    if "_distinct_" in name:
        return name.rsplit("_", 1)[0]
    if name in (
        "card_amount_avg_30d",
        "amount_to_card_avg_30d",
        "card_amount_std_30d",
        "amount_zscore_card_30d",
    ):
        return "amount_vs_card"
    if name.endswith("_country_mismatch"):
        return "countries"
    return name


# Features that describe one cause: only the strongest of a group is listed.
GROUPS = {name: g for name in FEATURE_NAMES if (g := _group(name)) != name}


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
    return explain_row(values, contributions, currency, k, 0)[0]


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
    row = dict(zip(FEATURE_NAMES, values.tolist(), strict=True))
    order = np.argsort(contributions, kind="stable").tolist()
    return _strongest(row, contributions.tolist(), order, currency, k, raising=False, taken=taken)


def explain_row(
    values: npt.NDArray[np.float64],
    contributions: npt.NDArray[np.float64],
    currency: str,
    k_raising: int,
    k_lowering: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both lists at once — what raised the risk most, then what lowered it most,
    leaving out causes already listed — sharing the row's conversions (the hot path)."""
    row = dict(zip(FEATURE_NAMES, values.tolist(), strict=True))
    contribs = contributions.tolist()
    ascending = np.argsort(contributions, kind="stable").tolist()
    descending = np.argsort(-contributions, kind="stable").tolist()  # ties: feature order, both ways
    up = _strongest(row, contribs, descending, currency, k_raising, raising=True)
    taken = {GROUPS.get(r["feature"], r["feature"]) for r in up}
    down = _strongest(row, contribs, ascending, currency, k_lowering, raising=False, taken=taken)
    return up, down


def _strongest(
    row: dict[str, float],
    contributions: list[float],
    order: list[int],
    currency: str,
    k: int,
    raising: bool,
    taken: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Walk ``order`` (strongest first) while contributions keep the wanted sign."""
    out: list[dict[str, Any]] = []
    used: set[str] = set(taken or ())
    for j in order:
        c = contributions[j]
        if len(out) >= k or (c <= 0 if raising else c >= 0):
            break
        name = FEATURE_NAMES[j]
        group = GROUPS.get(name, name)
        if group in used:
            continue
        used.add(group)
        v = row[name]
        out.append(
            {
                "feature": name,
                "value": None if math.isnan(v) else v,
                "contribution": c,
                "text": reason_text(name, row, currency),
            }
        )
    return out


def check_catalogue(names: Sequence[str] = FEATURE_NAMES) -> None:
    """Fail fast if a feature has no template (run by the tests)."""
    missing = [n for n in names if n not in TEMPLATES]
    if missing:
        raise KeyError(f"no reason template for {missing}")
