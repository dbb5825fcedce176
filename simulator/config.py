"""The knobs of a simulation run, in one frozen dataclass.

Frozen and hashable because the config *is* the identity of a dataset: the same
config always yields byte-identical output, and its digest prefixes event ids so
datasets made from different configs never collide in a shared store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from .catalog import CATEGORIES


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Rates are per card-day (per merchant-day for merchants).

    The defaults give about 100k transactions with ~1.5 % fraud.
    """

    seed: int = 7
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    days: float = 28.0
    cards: int = 2000
    merchants: int = 300
    accounts: int = 4
    # Legit traffic: mean payments per card per day (cards vary around it).
    payments_per_card_day: float = 1.8
    # (1) Stolen card: a burst within an hour at many merchants, new device, foreign IP.
    stolen_card: bool = True
    stolen_card_rate: float = 0.0018  # bursts per card-day
    # (2) Card testing: a run of sub-2 amounts, then a few large ones, same card.
    card_testing: bool = True
    card_testing_rate: float = 0.0007  # runs per card-day
    # (3) Compromised merchant: for some days, a share of its payments are fraud.
    compromised_merchant: bool = True
    compromised_merchant_rate: float = 0.0005  # compromises per merchant-day
    compromised_share: float = 0.3
    compromised_days: tuple[float, float] = (2.0, 6.0)
    # Labels.
    chargeback_share: float = 0.85  # of fraud transactions that get a chargeback
    false_dispute_rate: float = 0.001  # of legit transactions disputed as fraud
    label_delay_days: tuple[float, float] = (1.0, 60.0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        if not self.days > 0:
            raise ValueError("days must be > 0")
        if self.cards < 1:
            raise ValueError("cards must be >= 1")
        if self.merchants < len(CATEGORIES):
            raise ValueError(f"merchants must be >= {len(CATEGORIES)} (one per category)")
        if self.accounts < 1:
            raise ValueError("accounts must be >= 1")
        if self.payments_per_card_day <= 0:
            raise ValueError("payments_per_card_day must be > 0")
        for name in ("stolen_card_rate", "card_testing_rate", "compromised_merchant_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("compromised_share", "chargeback_share", "false_dispute_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        lo, hi = self.label_delay_days
        if not 0 <= lo <= hi:
            raise ValueError("label_delay_days must be (low, high) with 0 <= low <= high")
        lo, hi = self.compromised_days
        if not 0 < lo <= hi:
            raise ValueError("compromised_days must be (low, high) with 0 < low <= high")

    @property
    def digest(self) -> str:
        """A short, stable fingerprint of the config (8 hex digits).

        Canonical, so ``days=5`` and ``days=5.0``, or the same start written in
        two offsets, name the same dataset.
        """
        canonical = {f.name: _canonical(getattr(self, f.name)) for f in fields(self)}
        text = json.dumps(canonical, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, tuple):
        return [_canonical(v) for v in value]
    return value
