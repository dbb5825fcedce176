"""What rules see of one scored event, built lazily (``pipeline.scoring``'s hot path)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from contracts.records import Transaction
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES
from rules.attributes import rule_values


class RuleValues(Mapping[str, object]):
    """What rules see, built lazily: the model's outputs, the features (None when unknown),
    then the transaction's fields — ``rule_values(tx.model_dump(), features, ...)`` without
    building a 93-entry dict and dumping the transaction for every event."""

    __slots__ = ("_full", "_p", "_row", "_score", "_tx")

    def __init__(self, tx: Transaction, row: list[float], risk_score: int, probability: float) -> None:
        self._tx, self._row, self._score, self._p = tx, row, risk_score, probability
        self._full: dict[str, object] | None = None

    def _all(self) -> dict[str, object]:
        if self._full is None:
            self._full = _rule_values(self._tx, self._row, self._score, self._p)
        return self._full

    def __getitem__(self, name: str) -> object:
        if name == "risk_score":
            return self._score
        if name == "probability":
            return self._p
        j = FEATURE_INDEX.get(name)
        if j is not None:
            v = self._row[j]
            return None if v != v else v
        return self._all()[name]

    def get(self, name: str, default: object = None) -> object:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return name in ("risk_score", "probability") or name in FEATURE_INDEX or name in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _rule_values(tx: Transaction, row: list[float], risk_score: int, probability: float) -> dict[str, object]:
    """What rules see: the transaction's fields, the features (None when unknown), the model's outputs."""
    features = {name: (None if v != v else v) for name, v in zip(FEATURE_NAMES, row, strict=True)}
    return rule_values(tx.model_dump(), features, risk_score=risk_score, probability=probability)
