"""Deterministic simulator of card payments, fraud and delayed chargeback labels.

It exists so every part of riskwire (training, replay, the live worker, the
benchmarks) can be exercised on realistic, reproducible data: a population of
cards with habits (home country and time zone, typical amount, usual merchants
and devices) pays with a daily rhythm, three fraud patterns deviate from those
habits (stolen card bursts, card testing, compromised merchants), and
chargebacks arrive days to weeks later, incomplete and a little noisy. The same
config always gives byte-identical output; the ground truth is kept apart from
the records, in ``Simulation.fraud_event_ids``.

>>> from simulator import SimulationConfig, simulate
>>> sim = simulate(SimulationConfig(seed=3, days=3, cards=300, merchants=40))
>>> sim == simulate(SimulationConfig(seed=3, days=3, cards=300, merchants=40))
True
>>> sim.transactions[0]["card_id"][:5], sim.labels[0]["label"], sim.labels[0]["source"]
('card_', 'fraud', 'chargeback')
>>> "fraud" in str(sim.transactions)  # the truth is not in the records
False
"""

from .config import SimulationConfig
from .jsonl import read_jsonl, write_jsonl
from .payments import Pattern
from .producer import PublishError, publish
from .simulation import Simulation, simulate

__all__ = [
    "Pattern",
    "PublishError",
    "Simulation",
    "SimulationConfig",
    "publish",
    "read_jsonl",
    "simulate",
    "write_jsonl",
]
