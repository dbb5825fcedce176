"""Run a whole simulation: population, legit traffic, fraud, drift, labels, records.

Each stage draws from its own child of the config's seed, and each fraud
pattern takes fresh device and email numbers from a block of its own, so a run
is reproducible byte for byte and switching one fraud pattern off (or adding a
drift) leaves every other stream (legit traffic included) exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from .config import SimulationConfig
from .drift import drift_ms, holiday, pattern_plan, shift_fraud
from .fraud import amount_threshold, card_testing, compromised_merchant, stolen_card
from .labels import make_labels
from .legit import legit_payments, span_ms
from .payments import Numbers, Pattern, Payments
from .population import build_population
from .profile_fraud import account_takeover, cross_border
from .render import event_ids, render_transactions

# Appending names keeps the earlier streams' seeds (SeedSequence children by index).
_STREAMS = (
    "population",
    "legit",
    "stolen",
    "testing",
    "compromised",
    "labels",
    "render",
    "takeover",
    "cross_border",
    "shift",
    "holiday",
)
NUMBER_BLOCK = 10**7  # fresh device/email numbers per fraud pattern


@dataclass
class Simulation:
    """The output of ``simulate``.

    ``fraud_event_ids`` (and ``fraud_patterns``, event id -> pattern name) are the
    ground truth for tests and evaluation; they are deliberately not fields of the
    transaction records, which carry only what a real producer would know.
    """

    transactions: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    fraud_event_ids: set[str]
    fraud_patterns: dict[str, str] = field(default_factory=dict)
    drift_at: datetime | None = None  # when the config's drift starts, if it has one

    @property
    def fraud_rate(self) -> float:
        """Share of transactions that are fraud (ground truth)."""
        return len(self.fraud_event_ids) / max(1, len(self.transactions))


def simulate(config: SimulationConfig, progress: Callable[[int], None] | None = None) -> Simulation:
    """Simulate ``config``; transactions are sorted by ``occurred_at`` (as instants).

    ``progress``, if given, is called with the number of transactions rendered
    since its last call (rendering is the slow part), in steps of 10,000.

    >>> sim = simulate(SimulationConfig(seed=1, days=2, cards=200, merchants=40))
    >>> len(sim.transactions) > 500, sorted(sim.transactions[0])[:3]
    (True, ['account_id', 'amount', 'card_country'])
    >>> sim.fraud_event_ids <= {t["event_id"] for t in sim.transactions}
    True
    """
    rngs = dict(
        zip(
            _STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(len(_STREAMS))),
            strict=True,
        )
    )
    pop = build_population(config, rngs["population"])

    def fresh(block: int) -> tuple[Numbers, Numbers]:
        offset = block * NUMBER_BLOCK
        return Numbers(pop.n_devices + offset), Numbers(pop.n_emails + offset)

    legit = legit_payments(config, pop, rngs["legit"])
    legit = compromised_merchant(config, pop, legit, rngs["compromised"])
    if config.drift == "holiday":
        legit = holiday(config, pop, legit, rngs["holiday"])
    legit = amount_threshold(config, legit)
    parts = [
        legit,
        stolen_card(config, pop, rngs["stolen"], *fresh(0)),
        card_testing(config, pop, rngs["testing"], *fresh(1)),
    ]
    if (plan := pattern_plan(config, "account_takeover")) is not None:
        parts.append(account_takeover(pop, rngs["takeover"], *fresh(2), *plan))
    if (plan := pattern_plan(config, "cross_border")) is not None:
        parts.append(cross_border(pop, rngs["cross_border"], fresh(3)[0], *plan))
    payments = Payments.concat(parts)
    if config.drift == "fraud_shift":
        payments = shift_fraud(config, pop, payments, rngs["shift"])
    # A burst that would run past the end of a very short window is cut there.
    payments = payments.take(np.flatnonzero(payments.t_ms < span_ms(config)))
    payments = payments.take(np.argsort(payments.t_ms, kind="stable"))

    ids = event_ids(config, len(payments))
    transactions = render_transactions(config, pop, payments, ids, rngs["render"], progress)
    accounts = [t.get("account_id") for t in transactions]  # a label names its event's account
    labels = make_labels(config, payments.t_ms, payments.is_fraud, ids, rngs["labels"], accounts)
    fraud_rows = np.flatnonzero(payments.is_fraud).tolist()
    patterns = payments.pattern.tolist()
    fraud_patterns = {ids[i]: Pattern(patterns[i]).slug for i in fraud_rows}
    at = drift_ms(config)
    return Simulation(
        transactions=transactions,
        labels=labels,
        fraud_event_ids=set(fraud_patterns),
        fraud_patterns=fraud_patterns,
        drift_at=None if at is None else config.start + timedelta(milliseconds=at),
    )
