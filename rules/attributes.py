"""The attributes a rule may name, with their types, and the values mapping.

A rule names attributes as ``:name:``. Known names are every feature of
``features.catalogue``, every scalar field of the Transaction, ``risk_score``
and ``probability``; ``:attributes.KEY:`` reads the transaction's free-form
``attributes`` object and has no declared type.

>>> ATTRIBUTE_TYPES["amount"], ATTRIBUTE_TYPES["card_country"], attribute_type("attributes.tier")
('number', 'string', 'any')
>>> values = rule_values({"event_id": "e1", "amount": 12.5, "attributes": {"tier": "gold"}},
...                      {"card_count_1h": 3.0}, risk_score=91)
>>> values["risk_score"], values["card_count_1h"], lookup(values, "attributes.tier")
(91, 3.0, 'gold')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from features.catalogue import FEATURE_NAMES

ValueType = Literal["number", "string", "bool", "any"]

_STRING_FIELDS: Final = (
    "event_id",
    "occurred_at",
    "currency",
    "card_id",
    "merchant_id",
    "account_id",
    "customer_id",
    "channel",
    "card_country",
    "merchant_country",
    "ip_country",
    "mcc",
    "device_id",
    "ip",
    "email",
)

#: Every plain attribute name a rule may use, with its type.
ATTRIBUTE_TYPES: Final[dict[str, ValueType]] = {
    **{name: "number" for name in FEATURE_NAMES},
    **{name: "string" for name in _STRING_FIELDS},
    "amount": "number",
    "schema_version": "number",
    "risk_score": "number",
    "probability": "number",
}

ATTRIBUTES_PREFIX: Final = "attributes."


def attribute_type(name: str) -> ValueType | None:
    """The type of attribute ``name``, or None when no rule may use it."""
    if name.startswith(ATTRIBUTES_PREFIX) and len(name) > len(ATTRIBUTES_PREFIX):
        return "any"
    return ATTRIBUTE_TYPES.get(name)


def lookup(values: Mapping[str, object], name: str) -> object:
    """The value of attribute ``name`` in ``values`` (None when missing)."""
    if name.startswith(ATTRIBUTES_PREFIX):
        extra = values.get("attributes")
        if isinstance(extra, Mapping):
            return extra.get(name[len(ATTRIBUTES_PREFIX) :])
        return values.get(name)
    return values.get(name)


def rule_values(
    transaction: Mapping[str, object],
    features: Mapping[str, object],
    *,
    risk_score: int | None = None,
    probability: float | None = None,
) -> dict[str, object]:
    """Build the mapping rules are evaluated on from a transaction dict
    (``Transaction.model_dump()``), its feature values and the model's outputs."""
    values: dict[str, object] = dict(transaction)
    values.update(features)
    values["risk_score"] = risk_score
    values["probability"] = probability
    return values
