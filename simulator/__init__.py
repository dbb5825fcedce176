"""Deterministic simulator of card payments, fraud, drift and delayed labels.

It exists so every part of riskwire (training, replay, the live worker, the
benchmarks) can be exercised on realistic, reproducible data: a population of
cards with habits (home country and time zone, typical amount and frequency,
usual merchants, hours and devices) pays with a daily and weekly rhythm; five
fraud patterns deviate from those habits (stolen card bursts, card testing,
compromised merchants, account takeover, cross-border use of cloned cards),
each with its own switch and rate; a drift scenario (a new pattern, fraud
moving elsewhere, a holiday season) can change the world from a chosen day on,
leaving everything before it as it was. Chargebacks arrive days to weeks later,
incomplete and a little noisy, and a share of legit payments is confirmed
within days. The same config always gives byte-identical output; the ground
truth is kept apart from the records, in ``Simulation.fraud_event_ids``.

>>> from simulator import SimulationConfig, simulate
>>> sim = simulate(SimulationConfig(seed=3, days=3, cards=300, merchants=40))
>>> sim == simulate(SimulationConfig(seed=3, days=3, cards=300, merchants=40))
True
>>> sim.transactions[0]["card_id"][:5], sorted({(lab["label"], lab["source"]) for lab in sim.labels})
('card_', [('fraud', 'chargeback'), ('legit', 'confirmed')])
>>> "fraud" in str(sim.transactions)  # the truth is not in the records
False
"""

from .config import DRIFTS, NEW_PATTERNS, SimulationConfig
from .jsonl import read_jsonl, write_jsonl
from .payments import Pattern
from .producer import PublishError, publish
from .simulation import Simulation, simulate

__all__ = [
    "DRIFTS",
    "NEW_PATTERNS",
    "Pattern",
    "PublishError",
    "Simulation",
    "SimulationConfig",
    "publish",
    "read_jsonl",
    "simulate",
    "write_jsonl",
]
