"""The feature catalogue: every model input declared once.

The worker, training and backfill all build their feature matrices from this
list (``features.vectorize``), so their column order, windows and meaning can
never disagree. A feature's ``window`` says how far back its history must
reach for the value to be *complete*.

>>> [f.name for f in FEATURES][:3]
['amount', 'card_count_1h', 'card_amount_sum_1h']
>>> FEATURE_INDEX['merchant_count_24h'] == FEATURE_NAMES.index('merchant_count_24h')
True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MONTH_MS = 30 * DAY_MS

#: Amounts are stored as integer units of 1/10,000 (see docs/redis-keys.md).
AMOUNT_UNITS = 10_000


class Entity(StrEnum):
    EVENT = "event"
    CARD = "card"
    MERCHANT = "merchant"


@dataclass(frozen=True)
class Feature:
    """One model input: what it is about, how far back it looks, what it means."""

    name: str
    entity: Entity
    window_ms: int | None
    description: str


FEATURES: tuple[Feature, ...] = (
    Feature("amount", Entity.EVENT, None, "Payment amount"),
    Feature("card_count_1h", Entity.CARD, HOUR_MS, "Earlier payments on the card in the last hour"),
    Feature("card_amount_sum_1h", Entity.CARD, HOUR_MS, "Amount spent on the card in the last hour"),
    Feature("card_count_24h", Entity.CARD, DAY_MS, "Earlier payments on the card in the last 24 h"),
    Feature("card_amount_sum_24h", Entity.CARD, DAY_MS, "Amount spent on the card in the last 24 h"),
    Feature("card_count_30d", Entity.CARD, MONTH_MS, "Earlier payments on the card in 30 days"),
    Feature("card_amount_avg_30d", Entity.CARD, MONTH_MS, "The card's average amount over 30 days"),
    Feature(
        "amount_to_card_avg_30d",
        Entity.CARD,
        MONTH_MS,
        "This amount divided by the card's 30-day average",
    ),
    Feature(
        "card_seconds_since_previous",
        Entity.CARD,
        MONTH_MS,
        "Seconds since the card's previous payment (within 30 days)",
    ),
    Feature("merchant_count_1h", Entity.MERCHANT, HOUR_MS, "Payments at the merchant in the last hour"),
    Feature("merchant_count_24h", Entity.MERCHANT, DAY_MS, "Payments at the merchant in the last 24 h"),
    Feature(
        "card_merchant_country_mismatch",
        Entity.EVENT,
        None,
        "1 when the card's country differs from the merchant's",
    ),
    Feature(
        "card_ip_country_mismatch", Entity.EVENT, None, "1 when the IP's country differs from the card's"
    ),
    Feature("local_hour", Entity.EVENT, None, "Hour of day in the payment's own UTC offset"),
    Feature("is_weekend", Entity.EVENT, None, "1 on Saturday and Sunday (payment's local time)"),
    Feature("channel_code", Entity.EVENT, None, "Channel: 0 ecom, 1 pos, 2 atm, 3 p2p"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
