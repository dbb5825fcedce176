"""Payments as columns of numbers, before they become JSON records.

Generators produce and edit these column batches with numpy; only the final,
time-sorted batch is turned into dicts (see ``render``). Keeping entities as
integers until then is what keeps a 100k-payment month to a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class Pattern(IntEnum):
    """Why a payment exists: legit traffic or one of the fraud patterns."""

    LEGIT = 0
    STOLEN_CARD = 1
    CARD_TESTING = 2
    COMPROMISED_MERCHANT = 3
    ACCOUNT_TAKEOVER = 4
    CROSS_BORDER = 5
    AMOUNT_THRESHOLD = 6

    @property
    def slug(self) -> str:
        """The pattern's name as used in configs and ``Simulation.fraud_patterns``."""
        return self.name.lower()


@dataclass(frozen=True)
class Payments:
    """A batch of payments; all columns have the same length."""

    t_ms: IntArray  # milliseconds since config.start
    card: IntArray
    merchant: IntArray
    amount: FloatArray  # already rounded to cents
    ip_country: IntArray  # index into catalog.COUNTRIES
    ip: IntArray  # IPv4 as integer
    device: IntArray  # device number (rendered as an opaque token)
    email: IntArray  # email number (rendered as an opaque address)
    pattern: IntArray  # Pattern value

    def __len__(self) -> int:
        return len(self.t_ms)

    @property
    def is_fraud(self) -> npt.NDArray[np.bool_]:
        fraud: npt.NDArray[np.bool_] = self.pattern != Pattern.LEGIT
        return fraud

    def take(self, index: IntArray) -> Payments:
        """The rows at ``index``, in that order."""
        return Payments(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def with_columns(self, **columns: Any) -> Payments:
        """A copy with some columns replaced."""
        return replace(self, **columns)

    @staticmethod
    def concat(parts: list[Payments]) -> Payments:
        """All rows of ``parts``, in order."""
        names = [f.name for f in fields(Payments)]
        return Payments(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})

    @staticmethod
    def empty() -> Payments:
        """A batch with no rows (for switched-off patterns)."""
        none = np.zeros(0, dtype=np.int64)
        return Payments(
            t_ms=none,
            card=none,
            merchant=none,
            amount=np.zeros(0, dtype=np.float64),
            ip_country=none,
            ip=none,
            device=none,
            email=none,
            pattern=none,
        )


class Numbers:
    """Hands out fresh entity numbers (devices, emails) that nobody used before.

    Fraud patterns need devices and emails the card has never shown; numbering
    them after the population's keeps them distinct. Rendering later permutes
    all numbers so that "new" is not visible in the token itself.
    """

    def __init__(self, used: int) -> None:
        self.total = used

    def take(self, n: int) -> IntArray:
        out = np.arange(self.total, self.total + n, dtype=np.int64)
        self.total += n
        return out


def round_amount(x: FloatArray) -> FloatArray:
    """Amounts in cents, never below one cent."""
    return np.maximum(np.round(x, 2), 0.01)
