"""Run a whole simulation: population, legit traffic, fraud, labels, records.

Each stage draws from its own child of the config's seed, so a run is
reproducible byte for byte and switching one fraud pattern off leaves every
other stream (legit traffic included) exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import SimulationConfig
from .fraud import card_testing, compromised_merchant, stolen_card
from .labels import make_labels
from .legit import legit_payments, span_ms
from .payments import Numbers, Pattern, Payments
from .population import build_population
from .render import event_ids, render_transactions

_STREAMS = ("population", "legit", "stolen", "testing", "compromised", "labels", "render")


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
            (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(7)),
            strict=True,
        )
    )
    pop = build_population(config, rngs["population"])
    devices, emails = Numbers(pop.n_devices), Numbers(pop.n_emails)
    legit = legit_payments(config, pop, rngs["legit"])
    legit = compromised_merchant(config, pop, legit, rngs["compromised"])
    stolen = stolen_card(config, pop, rngs["stolen"], devices, emails)
    testing = card_testing(config, pop, rngs["testing"], devices, emails)
    payments = Payments.concat([legit, stolen, testing])
    # A burst that would run past the end of a very short window is cut there.
    payments = payments.take(np.flatnonzero(payments.t_ms < span_ms(config)))
    payments = payments.take(np.argsort(payments.t_ms, kind="stable"))

    ids = event_ids(config, len(payments))
    transactions = render_transactions(
        config, pop, payments, ids, devices.total, emails.total, rngs["render"], progress
    )
    labels = make_labels(config, payments.t_ms, payments.is_fraud, ids, rngs["labels"])
    fraud_rows = np.flatnonzero(payments.is_fraud).tolist()
    patterns = payments.pattern.tolist()
    fraud_patterns = {ids[i]: Pattern(patterns[i]).slug for i in fraud_rows}
    return Simulation(
        transactions=transactions,
        labels=labels,
        fraud_event_ids=set(fraud_patterns),
        fraud_patterns=fraud_patterns,
    )
