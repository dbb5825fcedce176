"""The feature catalogue: every model input declared once.

The worker, training and backfill all build their feature matrices from this
list (``features.vectorize``), so their column order, windows and meaning can
never disagree. A feature's ``window_ms`` says how far back its history must
reach for the value to be *complete*; ``bucket_ms`` is the size of the time
buckets its window is made of (the window is the event's own bucket and the
``window_ms / bucket_ms`` before it: docs/redis-keys.md).

>>> len(FEATURES), [f.name for f in FEATURES][:3]
(93, ['amount', 'card_count_10m', 'card_amount_sum_10m'])
>>> FEATURE_INDEX['merchant_count_24h'] == FEATURE_NAMES.index('merchant_count_24h')
True
>>> FEATURES_BY_NAME['card_fraud_rate_30d'].entity, FEATURES_BY_NAME['ip_count_1h'].bucket_ms
(<Entity.CARD: 'card'>, 300000)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from features import windows as spec
from features.windows import DAY_MS, HOUR_MS, MINUTE_MS

__all__ = [
    "AMOUNT_UNITS",
    "COUNTED",
    "DAY_MS",
    "FEATURES",
    "FEATURES_BY_NAME",
    "FEATURE_INDEX",
    "FEATURE_NAMES",
    "HOUR_MS",
    "MINUTE_MS",
    "SPOKEN",
    "WINDOWS",
    "Entity",
    "Feature",
]

#: Amounts are stored as integer units of 1/10,000 (see docs/redis-keys.md).
AMOUNT_UNITS = 10_000


class Entity(StrEnum):
    EVENT = "event"
    CARD = "card"
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    DEVICE = "device"
    IP = "ip"
    EMAIL = "email"


@dataclass(frozen=True)
class Feature:
    """One model input: what it is about, how far back it looks, what it means."""

    name: str
    entity: Entity
    window_ms: int | None
    description: str
    bucket_ms: int | None = None


#: Window name → (length, bucket size), from the windows spec (``features.windows``).
WINDOWS: dict[str, tuple[int, int]] = {w.name: (w.length_ms, w.bucket_ms) for w in spec.WINDOWS}
SPOKEN: dict[str, str] = {w.name: w.spoken for w in spec.WINDOWS}
COUNTED: tuple[Entity, ...] = tuple(Entity(e) for e in spec.COUNTED)
#: The card's amount moments' window; the time-since features are complete over the longest.
_MOMENT = spec.MOMENT_WINDOW
_LONGEST = max(spec.WINDOWS, key=lambda w: w.length_ms).name
#: What each distinct-count family counts, in words.
_DISTINCT_TEXT = {
    ("card", "merchants"): "merchants the card paid",
    ("card", "countries"): "merchant countries the card paid in",
    ("device", "cards"): "cards used on the device",
    ("ip", "cards"): "cards used from the IP address",
    ("email", "cards"): "cards used with the email address",
}


def _windowed(name: str, entity: Entity, window: str, description: str) -> Feature:
    length, bucket = WINDOWS[window]
    return Feature(name, entity, length, description, bucket)


def _velocity() -> list[Feature]:
    out = []
    for e in COUNTED:
        for w in WINDOWS:
            span = SPOKEN[w]
            out.append(_windowed(f"{e}_count_{w}", e, w, f"Earlier payments of the {e} in the last {span}"))
            out.append(_windowed(f"{e}_amount_sum_{w}", e, w, f"Amount paid by the {e} in the last {span}"))
    return out


def _distinct() -> list[Feature]:
    cap = spec.DISTINCT_CAP
    return [
        _windowed(
            f"{d.entity}_distinct_{d.what}_{w}",
            Entity(d.entity),
            w,
            f"Distinct {_DISTINCT_TEXT[d.entity, d.what]} in the last {SPOKEN[w]} (max {cap})",
        )
        for d in spec.DISTINCT
        for w in spec.DISTINCT_WINDOWS
    ]


def _labels() -> list[Feature]:
    out = []
    for e in map(Entity, spec.LABELLED):
        for w in spec.LABEL_WINDOWS:
            span = SPOKEN[w]
            out.append(
                _windowed(
                    f"{e}_fraud_count_{w}", e, w, f"The {e}'s payments of the last {span} known as fraud"
                )
            )
            out.append(
                _windowed(
                    f"{e}_fraud_rate_{w}",
                    e,
                    w,
                    f"Share of the {e}'s payments of the last {span} known as fraud",
                )
            )
    return out


FEATURES: tuple[Feature, ...] = (
    Feature("amount", Entity.EVENT, None, "Payment amount"),
    *_velocity(),
    _windowed("card_amount_avg_30d", Entity.CARD, _MOMENT, "The card's average amount over 30 days"),
    _windowed(
        "card_amount_std_30d", Entity.CARD, _MOMENT, "Standard deviation of the card's amounts over 30 days"
    ),
    _windowed(
        "amount_to_card_avg_30d", Entity.CARD, _MOMENT, "This amount divided by the card's 30-day average"
    ),
    _windowed(
        "amount_zscore_card_30d", Entity.CARD, _MOMENT, "This amount's z-score among the card's 30 days"
    ),
    _windowed(
        "card_seconds_since_previous", Entity.CARD, _LONGEST, "Seconds since the card's previous payment"
    ),
    _windowed("card_seconds_since_first", Entity.CARD, _LONGEST, "Seconds since the card was first seen"),
    _windowed(
        "device_seconds_since_first", Entity.DEVICE, _LONGEST, "Seconds since the device was first seen"
    ),
    _windowed("email_seconds_since_first", Entity.EMAIL, _LONGEST, "Seconds since the email was first seen"),
    *_distinct(),
    *_labels(),
    Feature(
        "card_merchant_country_mismatch",
        Entity.EVENT,
        None,
        "1 when the card's country differs from the merchant's",
    ),
    Feature(
        "card_ip_country_mismatch", Entity.EVENT, None, "1 when the IP's country differs from the card's"
    ),
    Feature(
        "merchant_ip_country_mismatch",
        Entity.EVENT,
        None,
        "1 when the IP's country differs from the merchant's",
    ),
    Feature("local_hour", Entity.EVENT, None, "Hour of day in the payment's own UTC offset"),
    Feature("is_weekend", Entity.EVENT, None, "1 on Saturday and Sunday (payment's local time)"),
    Feature("channel_code", Entity.EVENT, None, "Channel: 0 ecom, 1 pos, 2 atm, 3 p2p"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
