"""What the models page derives from the newest stored decisions: PSI per feature
against the model card's reference, shadow agreement, and the online model over time.

>>> agreement([{"decision": "allow", "shadow": {"decision": "allow"}},
...            {"decision": "review", "shadow": {"decision": "allow"}}, {"decision": "allow"}])
{'compared': 2, 'agree': 1, 'pairs': [('allow', 'allow', 1), ('review', 'allow', 1)]}
>>> online_points([{"scored_at": "2026-01-01T00:00:00+00:00",
...                 "model": {"online_version": "origin+40", "online_weight": 0.2}}])
[{'at': '2026-01-01T00:00:00+00:00', 'learned': 40, 'weight': 0.2}]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from features.catalogue import FEATURE_NAMES
from models.drift import PsiMonitor


def psi_rows(records: Sequence[dict[str, Any]], reference: dict[str, Any]) -> list[tuple[str, float]]:
    """PSI per feature (and ``score``) of these records, highest first."""
    if not records or not reference:
        return []
    x = np.array(
        [[(r.get("features", {}).get(n) or {}).get("value") for n in FEATURE_NAMES] for r in records],
        dtype=np.float64,
    )
    scores = np.array([r["model"].get("batch_probability") or r["probability"] for r in records])
    monitor = PsiMonitor(reference, half_life=1e12)  # no decay: a plain count of the sample
    monitor.update(x, scores)
    return sorted(monitor.psi().items(), key=lambda kv: -kv[1])


def agreement(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How often the shadow candidate's decision matched the acted-on one."""
    pairs = Counter((r["decision"], r["shadow"]["decision"]) for r in records if r.get("shadow"))
    return {
        "compared": sum(pairs.values()),
        "agree": sum(c for (a, b), c in pairs.items() if a == b),
        "pairs": sorted((a, b, c) for (a, b), c in pairs.items()),
    }


def online_points(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """(time, labels learned, blend weight) of the online model, oldest first."""
    points = []
    for r in records:
        version = r["model"].get("online_version") or ""
        learned = version.rsplit("+", 1)[-1] if "+" in version else ""
        if learned.isdigit():
            points.append(
                {"at": r["scored_at"], "learned": int(learned), "weight": r["model"]["online_weight"]}
            )
    return sorted(points, key=lambda p: str(p["at"]))


def polyline(values: Sequence[float], width: int = 600, height: int = 120) -> str:
    """SVG polyline points for ``values`` spread across ``width``, their range across ``height``.

    >>> polyline([10, 20], width=100, height=10)
    '0.0,10.0 100.0,0.0'
    """
    if not values:
        return ""
    low, span = min(values), (max(values) - min(values)) or 1.0
    step = width / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - height * (v - low) / span:.1f}" for i, v in enumerate(values))
