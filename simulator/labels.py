"""Delayed, imperfect labels, the way chargebacks arrive in real life.

Most fraud is charged back days to weeks later, some never is, and a few honest
payments are disputed anyway. Models must learn from this feed, so it carries
the same gaps and noise; the exact truth lives in ``Simulation.fraud_event_ids``.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from .catalog import MS_PER_DAY
from .config import SimulationConfig
from .payments import IntArray


def make_labels(
    config: SimulationConfig,
    t_ms: IntArray,
    is_fraud: npt.NDArray[np.bool_],
    event_ids: list[str],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Label records (DESIGN.md ``Label``) sorted by ``reported_at``, then event order.

    Delays are drawn from a right-skewed Beta over ``config.label_delay_days``
    (mean about 18 days with the defaults), like chargeback windows.
    """
    draw = rng.random(len(t_ms))
    labelled = np.where(is_fraud, draw < config.chargeback_share, draw < config.false_dispute_rate)
    rows = np.flatnonzero(labelled)
    lo, hi = config.label_delay_days
    delay_days = lo + (hi - lo) * rng.beta(2.0, 5.0, size=len(rows))
    delay_ms = np.clip(np.round(delay_days * MS_PER_DAY), lo * MS_PER_DAY, hi * MS_PER_DAY)
    reported = t_ms[rows] + delay_ms.astype(np.int64)
    order = np.lexsort((rows, reported))
    start = config.start.astimezone(UTC)
    out: list[dict[str, Any]] = []
    for row, ms in zip(rows[order].tolist(), reported[order].tolist(), strict=True):
        when = start + timedelta(milliseconds=ms)
        out.append(
            {
                "event_id": event_ids[row],
                "label": "fraud",
                "reported_at": when.isoformat(timespec="microseconds"),
                "source": "chargeback",
            }
        )
    return out
