"""A decision's reason lines: SHAP's strongest raising and lowering causes, then the
online model's share of the blend. One function for the worker (alerts, on the hot
path) and the API (allowed payments, on demand), so both give the same lines."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from explain.online_share import online_share_reason
from explain.reasons import explain_row


def decision_reasons(
    values: npt.NDArray[np.float64],
    contributions: npt.NDArray[np.float64],
    currency: str,
    k_raising: int,
    k_lowering: int,
    *,
    p_batch: float,
    p_online: float | None,
    p_blend: float,
    weight: float,
) -> list[dict[str, Any]]:
    """What raised the risk, strongest first, then what lowered it most, then (when the
    online model has a weight) its share of the blend (``Reason`` dicts)."""
    up, down = explain_row(values, contributions, currency, k_raising, k_lowering)
    reasons = up + down
    if p_online is not None and weight > 0:
        reasons.append(
            online_share_reason(p_batch=p_batch, p_online=p_online, p_blend=p_blend, weight=weight)
        )
    return reasons
