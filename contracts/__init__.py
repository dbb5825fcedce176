"""Shared contracts of riskwire: the record schemas every stage exchanges
(transactions, labels, decision records, as ``../shared/DESIGN.md`` defines
them) and the one settings class, read from ``RISKWIRE_*`` environment
variables. Nothing here talks to a service; every other package imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# The names load on first use (PEP 562): `import contracts.errors` (every CLI error path)
# must not pay for the pydantic record models and the settings, ~0.2 s of CPU.
_HOME = {
    **dict.fromkeys(
        ("KafkaUnreachable", "RedisUnreachable", "RiskwireError", "ServiceUnreachable", "UsageError"),
        "contracts.errors",
    ),
    "Settings": "contracts.settings",
    "get_settings": "contracts.settings",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'contracts' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME.get(name, "contracts.records")), name)
