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

#: Drift scenarios (``SimulationConfig.drift``); each changes only what happens
#: from ``drift_day`` on, so the events before it are those of a run without it.
DRIFTS: tuple[str, ...] = ("new_pattern", "fraud_shift", "holiday")
#: Patterns that ``drift="new_pattern"`` can make appear.
NEW_PATTERNS: tuple[str, ...] = ("account_takeover", "cross_border")


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Rates are per card-day (per merchant-day for merchants).

    The defaults give about 100k transactions with ~2 % fraud and no drift.

    Drift (``drift`` with ``drift_day``, days after ``start``):

    - ``"new_pattern"``: the pattern named by ``new_pattern`` does not exist
      before the drift (whatever its own switch says) and runs at
      ``new_pattern_rate`` from it on. Events before the drift equal those of the
      same config with ``drift=None`` and that pattern switched off.
    - ``"fraud_shift"``: from the drift on, card-not-present fraud (stolen card,
      card testing, account takeover) pays at merchants of other categories
      (gambling, travel agencies, ride hailing, books) and foreign fraud IPs
      come from countries never seen before (CN, TR, MX, PK).
    - ``"holiday"``: from the drift on, legit cards pay more often (+60 %, mostly
      online and more often abroad) and spend more (about +30 %).

    Except for ``"new_pattern"``'s switch, the events before the drift equal
    those of the same config with ``drift=None`` (event ids aside: they carry
    the config digest).
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
    compromised_merchant_rate: float = 0.0008  # compromises per merchant-day
    compromised_share: float = 0.04
    compromised_days: tuple[float, float] = (7.0, 21.0)
    # (4) Account takeover: new device (and mostly a new email), home-country IP,
    # 1-4 payments far above the card's usual amounts within two days.
    account_takeover: bool = True
    account_takeover_rate: float = 0.0005  # takeovers per card-day
    # (5) Cross-border: a cloned card paid in person abroad, where the card never goes.
    cross_border: bool = True
    cross_border_rate: float = 0.0004  # trips per card-day
    # Labels.
    chargeback_share: float = 0.85  # of fraud transactions that get a chargeback
    false_dispute_rate: float = 0.001  # of legit transactions disputed as fraud
    label_delay_days: tuple[float, float] = (1.0, 60.0)
    # Legit feedback (reviews closed as legit, customers confirming a payment).
    legit_label_share: float = 0.03  # of legit transactions labelled "legit"
    legit_label_delay_days: tuple[float, float] = (0.0, 3.0)
    # Drift: one scenario of DRIFTS from drift_day (days after start) on; see above.
    drift: str | None = None
    drift_day: float | None = None
    new_pattern: str = "account_takeover"  # one of NEW_PATTERNS
    new_pattern_rate: float = 0.006  # its incidents per card-day after the drift
    # (6) Deterministic: every legit payment above this amount is fraud (the
    # handbook's "amount above a fixed threshold" scenario); None: off.
    amount_threshold: float | None = None

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
        rates = (
            "stolen_card_rate",
            "card_testing_rate",
            "compromised_merchant_rate",
            "account_takeover_rate",
            "cross_border_rate",
            "new_pattern_rate",
        )
        for name in rates:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")
        shares = ("compromised_share", "chargeback_share", "false_dispute_rate", "legit_label_share")
        for name in shares:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        for name in ("label_delay_days", "legit_label_delay_days"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high")
        if (self.drift is None) != (self.drift_day is None):
            raise ValueError("drift and drift_day go together: give both or neither")
        if self.drift is not None and self.drift not in DRIFTS:
            raise ValueError(f"drift must be one of {', '.join(DRIFTS)}")
        if self.drift_day is not None and not 0 <= self.drift_day < self.days:
            raise ValueError("drift_day must be within [0, days)")
        if self.new_pattern not in NEW_PATTERNS:
            raise ValueError(f"new_pattern must be one of {', '.join(NEW_PATTERNS)}")
        if self.amount_threshold is not None and not self.amount_threshold > 0:
            raise ValueError("amount_threshold must be > 0")
        lo, hi = self.compromised_days
        if not 0 < lo <= hi:
            raise ValueError("compromised_days must be (low, high) with 0 < low <= high")

    @property
    def digest(self) -> str:
        """A short, stable fingerprint of the config (8 hex digits).

        Canonical, so ``days=5`` and ``days=5.0``, or the same start written in
        two offsets, name the same dataset.
        """
        # Knobs added later count only when set, so older datasets keep their ids.
        canonical = {
            f.name: _canonical(getattr(self, f.name))
            for f in fields(self)
            if f.name not in _LATER or getattr(self, f.name) is not None
        }
        text = json.dumps(canonical, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


_LATER = frozenset({"amount_threshold"})


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
