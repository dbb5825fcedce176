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

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
MONTH_MS = 30 * DAY_MS

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


#: Window name → (length, bucket size), as in features.aggregates.WINDOWS.
WINDOWS = {
    "10m": (10 * MINUTE_MS, MINUTE_MS),
    "1h": (HOUR_MS, 5 * MINUTE_MS),
    "24h": (DAY_MS, HOUR_MS),
    "7d": (WEEK_MS, DAY_MS),
    "30d": (MONTH_MS, DAY_MS),
}
SPOKEN = {"10m": "10 minutes", "1h": "hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days"}
COUNTED = (Entity.CARD, Entity.CUSTOMER, Entity.MERCHANT, Entity.DEVICE, Entity.IP, Entity.EMAIL)


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
    pairs = [
        (Entity.CARD, "merchants", "merchants the card paid"),
        (Entity.CARD, "countries", "merchant countries the card paid in"),
        (Entity.DEVICE, "cards", "cards used on the device"),
        (Entity.IP, "cards", "cards used from the IP address"),
        (Entity.EMAIL, "cards", "cards used with the email address"),
    ]
    return [
        _windowed(f"{e}_distinct_{what}_{w}", e, w, f"Distinct {text} in the last {SPOKEN[w]} (max 32)")
        for e, what, text in pairs
        for w in ("24h", "7d")
    ]


def _labels() -> list[Feature]:
    out = []
    for e in (Entity.CARD, Entity.MERCHANT):
        for w in ("7d", "30d"):
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
    _windowed("card_amount_avg_30d", Entity.CARD, "30d", "The card's average amount over 30 days"),
    _windowed(
        "card_amount_std_30d", Entity.CARD, "30d", "Standard deviation of the card's amounts over 30 days"
    ),
    _windowed(
        "amount_to_card_avg_30d", Entity.CARD, "30d", "This amount divided by the card's 30-day average"
    ),
    _windowed("amount_zscore_card_30d", Entity.CARD, "30d", "This amount's z-score among the card's 30 days"),
    _windowed("card_seconds_since_previous", Entity.CARD, "30d", "Seconds since the card's previous payment"),
    _windowed("card_seconds_since_first", Entity.CARD, "30d", "Seconds since the card was first seen"),
    _windowed("device_seconds_since_first", Entity.DEVICE, "30d", "Seconds since the device was first seen"),
    _windowed("email_seconds_since_first", Entity.EMAIL, "30d", "Seconds since the email was first seen"),
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
