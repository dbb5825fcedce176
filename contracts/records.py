"""Record schemas of DESIGN.md: Transaction, Label and the Decision record.

Transactions are validated strictly (wrong JSON types are errors, not
coerced) because a payment scored on a misread amount is worse than one sent
to the dead-letter topic with its reason. Unknown top-level fields are kept.

>>> t = Transaction.model_validate_json(
...     b'{"event_id":"e1","occurred_at":"2026-01-01T10:00:00+01:00",'
...     b'"amount":12.5,"currency":"EUR","card_id":"c1","merchant_id":"m1",'
...     b'"loyalty_tier":"gold"}'
... )
>>> t.amount, t.model_extra
(12.5, {'loyalty_tier': 'gold'})
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _require_rfc3339(value: Any) -> Any:
    # Pydantic would also read epoch numbers and naive times; the contract is RFC 3339.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(
            "must be an RFC 3339 timestamp with a timezone offset, e.g. 2026-01-01T10:00:00+01:00"
        )
    return value


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_require_rfc3339)]

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=256), Field(strict=True)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), Field(strict=True)]
#: Above any real payment; keeps every derived feature finite (sums, ratios, squares).
MAX_AMOUNT = 1e12
Amount = Annotated[float, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, strict=True)]
Scalar = str | int | float | bool | None
#: The entities a payment names, in the feature kernel's order (card and merchant always).
ENTITY_KINDS = ("card", "customer", "merchant", "device", "ip", "email")


class Channel(StrEnum):
    ECOM = "ecom"
    POS = "pos"
    ATM = "atm"
    P2P = "p2p"


class RiskLevel(StrEnum):
    NORMAL = "normal"
    ELEVATED = "elevated"
    HIGHEST = "highest"


class DecisionKind(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


class Transaction(BaseModel):
    """A payment event as producers publish it on ``transactions``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: NonEmpty
    occurred_at: Rfc3339
    amount: Amount
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(strict=True)]
    card_id: NonEmpty
    merchant_id: NonEmpty
    account_id: NonEmpty | None = None
    customer_id: NonEmpty | None = None
    channel: Channel | None = None
    card_country: Country | None = None
    merchant_country: Country | None = None
    ip_country: Country | None = None
    mcc: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$"), Field(strict=True)] | None = None
    device_id: NonEmpty | None = None
    ip: NonEmpty | None = None
    email: NonEmpty | None = None
    attributes: dict[str, Scalar] | None = None
    schema_version: Annotated[int, Field(strict=True, ge=1)] = 1

    @property
    def occurred_ms(self) -> int:
        """Event time in epoch milliseconds, the unit of every feature window."""
        return int(self.occurred_at.timestamp() * 1000)


class LabelKind(StrEnum):
    FRAUD = "fraud"
    LEGIT = "legit"


class Label(BaseModel):
    """The truth about a transaction, known at ``reported_at``.

    Unknown fields are refused: a label is published as given, so an extra field (an
    ``account_id`` of another tenant, say) would reach every consumer of ``labels``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: NonEmpty
    label: LabelKind
    reported_at: Rfc3339
    source: NonEmpty
    #: The account of the payment it is about: event ids are only unique per account.
    account_id: NonEmpty | None = None


class Reason(BaseModel):
    """One contributor to a decision, in the analyst's words."""

    feature: str
    value: float | str | None
    contribution: float = Field(description="Signed SHAP contribution, in log-odds")
    text: str


class FeatureValue(BaseModel):
    """A feature as used for the decision, and whether its history was complete."""

    value: float | str | None
    complete: bool = Field(description="False when the window reaches before the store's history")


class ModelVersions(BaseModel):
    """Which models made the probability, and with which blend weights."""

    batch_version: str
    batch_weight: float
    online_version: str | None = None
    online_weight: float = 0.0
    batch_probability: float | None = Field(
        default=None, description="The batch model's calibrated probability"
    )
    online_probability: float | None = Field(default=None, description="The online model's probability")


class ShadowDecision(BaseModel):
    """What a shadow candidate model would have decided: recorded, never acted on."""

    version: str
    probability: float
    risk_score: int
    risk_level: RiskLevel
    decision: DecisionKind


class FeatureVector(BaseModel):
    """The stored record's compact features (``pipeline.record_shapes``): the values in
    catalogue order and which windows were incomplete, plus what reason texts need."""

    catalogue: str = Field(description="Digest of the catalogue's feature names, in order")
    values: list[float | None]
    incomplete: str = Field(description="Hex bitmask, least significant bit first: bit j = feature j")
    currency: str
    reason_counts: list[int] = Field(description="Raising and lowering reasons to list")


class _DecisionBase(BaseModel):
    event_id: str
    account_id: str | None = Field(default=None, description="The payment's account, when it named one")
    card_id: str | None = Field(default=None, description="As the producer sent it (absent in older records)")
    merchant_id: str | None = None
    customer_id: str | None = None
    occurred_at: datetime
    scored_at: datetime
    risk_score: int = Field(ge=0, le=100)
    risk_level: RiskLevel
    decision: DecisionKind
    probability: float = Field(ge=0.0, le=1.0)
    model: ModelVersions
    reasons: list[Reason]
    explained: bool = Field(
        default=True,
        description="False when the reasons were not computed (an allowed payment on the topics)",
    )
    rules: list[str]
    latency_ms: float
    shadow: ShadowDecision | None = None
    shared_signals: list[str] = Field(
        default_factory=list,
        description="Entity kinds whose state is shared across accounts and fed this decision",
    )


class PublishedDecision(_DecisionBase):
    """The decision record on ``scores``/``alerts``: no features (``feature_vector`` only
    with ``RISKWIRE_SCORES_INCLUDE_FEATURES``); an allowed payment's reasons are left to
    the API (``reasons: []``, ``explained: false``)."""

    feature_vector: FeatureVector | None = None


class Decision(_DecisionBase):
    """The decision record as the API serves it: every feature, and the reasons filled in
    (for an allowed payment, computed on demand from its stored features)."""

    features: dict[str, FeatureValue]
