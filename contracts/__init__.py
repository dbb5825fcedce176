"""Shared contracts of riskwire: the record schemas every stage exchanges
(transactions, labels, decision records, as ``../shared/DESIGN.md`` defines
them) and the one settings class, read from ``RISKWIRE_*`` environment
variables. Nothing here talks to a service; every other package imports it.
"""

from contracts.errors import (
    KafkaUnreachable,
    RedisUnreachable,
    RiskwireError,
    ServiceUnreachable,
    UsageError,
)
from contracts.records import (
    Channel,
    Decision,
    DecisionKind,
    FeatureValue,
    FeatureVector,
    Label,
    ModelVersions,
    PublishedDecision,
    Reason,
    RiskLevel,
    ShadowDecision,
    Transaction,
)
from contracts.settings import Settings, get_settings

__all__ = [
    "Channel",
    "Decision",
    "DecisionKind",
    "FeatureValue",
    "FeatureVector",
    "KafkaUnreachable",
    "Label",
    "ModelVersions",
    "PublishedDecision",
    "Reason",
    "RedisUnreachable",
    "RiskLevel",
    "RiskwireError",
    "ServiceUnreachable",
    "Settings",
    "ShadowDecision",
    "Transaction",
    "UsageError",
    "get_settings",
]
