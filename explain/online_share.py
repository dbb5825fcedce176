"""The online model's share of a blended score, as its own reason line.

SHAP explains the batch model; the online model (learning from recent labels)
moves that probability up or down by its blend weight. The line says by how
much, in the same log-odds unit as the SHAP contributions, so an analyst sees
when a decision rests on what the engine learned since the batch model was
trained.

>>> line = online_share_reason(p_batch=0.10, p_online=0.70, p_blend=0.28, weight=0.3)
>>> line["feature"], line["value"], round(line["contribution"], 2)
('online_model', 0.7, 1.25)
>>> line["text"]
'The online model, learning from recent labels (30% of the blend), raised the risk from 10% to 28%'
>>> online_share_reason(p_batch=0.5, p_online=0.5, p_blend=0.5, weight=0.3)["text"]
'The online model, learning from recent labels (30% of the blend), agrees with the batch model (50%)'
"""

from __future__ import annotations

import math
from typing import Any

FEATURE = "online_model"
_EPS = 1e-9


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%" if p >= 0.01 or p == 0 else f"{100 * p:.1f}%"


def online_share_reason(*, p_batch: float, p_online: float, p_blend: float, weight: float) -> dict[str, Any]:
    """The reason line (``Reason`` shape): contribution = logit(blend) − logit(batch)."""
    contribution = _logit(p_blend) - _logit(p_batch)
    share = f"The online model, learning from recent labels ({100 * weight:.0f}% of the blend),"
    if _pct(p_blend) == _pct(p_batch):
        text = f"{share} agrees with the batch model ({_pct(p_batch)})"
    else:
        verb = "raised" if p_blend > p_batch else "lowered"
        text = f"{share} {verb} the risk from {_pct(p_batch)} to {_pct(p_blend)}"
    return {"feature": FEATURE, "value": round(p_online, 4), "contribution": contribution, "text": text}
