"""Delayed, imperfect labels, the way chargebacks and feedback arrive in real life.

Most fraud is charged back days to weeks later, some never is, and a few honest
payments are disputed anyway. Teams also hear that payments were fine: reviews
closed as legit, customers confirming a payment; a small share of legit
payments get a ``legit`` label within days. Models must learn from this feed,
so it carries the same gaps and noise; the exact truth lives in
``Simulation.fraud_event_ids``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .catalog import MS_PER_DAY
from .config import SimulationConfig
from .payments import FloatArray, IntArray
from .render import iso_times

CHARGEBACK = "chargeback"
CONFIRMED = "confirmed"


def _delays(lo: float, hi: float, fraction: FloatArray) -> IntArray:
    """Delays in ms at ``fraction`` (0..1) of the way from ``lo`` to ``hi`` days."""
    ms = np.round((lo + (hi - lo) * fraction) * MS_PER_DAY)
    return np.clip(ms, lo * MS_PER_DAY, hi * MS_PER_DAY).astype(np.int64)


def make_labels(
    config: SimulationConfig,
    t_ms: IntArray,
    is_fraud: npt.NDArray[np.bool_],
    event_ids: list[str],
    rng: np.random.Generator,
    accounts: list[Any] | None = None,
) -> list[dict[str, Any]]:
    """Label records (DESIGN.md ``Label``) sorted by ``reported_at``, then event order.

    Fraud labels (chargebacks, and false disputes of legit payments) come
    after a right-skewed Beta delay over ``config.label_delay_days`` (mean
    about 18 days with the defaults); ``legit`` labels (source ``confirmed``)
    after a uniform delay over ``config.legit_label_delay_days``.

    Every draw is one per payment, each kind from its own stream, so the label
    of a payment depends only on the payments before it: a run that differs
    only after some time has the same labels for the payments before it.
    """
    n = len(t_ms)
    which, delay, confirm, confirm_delay = rng.spawn(4)
    draw = which.random(n)
    disputed = np.where(is_fraud, draw < config.chargeback_share, draw < config.false_dispute_rate)
    fraud_delay = _delays(*config.label_delay_days, delay.beta(2.0, 5.0, size=n))
    confirmed = ~is_fraud & ~disputed & (confirm.random(n) < config.legit_label_share)
    legit_delay = _delays(*config.legit_label_delay_days, confirm_delay.random(n))

    rows = np.flatnonzero(disputed | confirmed)
    reported = t_ms[rows] + np.where(disputed[rows], fraud_delay[rows], legit_delay[rows])
    order = np.lexsort((rows, reported))
    rows, reported = rows[order], reported[order]
    epoch = round(config.start.timestamp() * 1000)
    when = iso_times(epoch + reported, np.zeros(len(rows), dtype=np.int64), ["+00:00"])
    fraud_row = disputed[rows].tolist()
    out: list[dict[str, Any]] = [
        {
            "event_id": event_ids[row],
            "label": "fraud" if bad else "legit",
            "reported_at": at,
            "source": CHARGEBACK if bad else CONFIRMED,
        }
        for row, bad, at in zip(rows.tolist(), fraud_row, when, strict=True)
    ]
    if accounts is not None:  # event ids are unique per account only
        for record, row in zip(out, rows.tolist(), strict=True):
            if accounts[row] is not None:
                record["account_id"] = accounts[row]
    return out
