"""What a candidate rule would have matched on labelled history.

>>> from rules import compile_rule
>>> rule = compile_rule("block if :amount: > 100")
>>> history = [({"event_id": "e1", "amount": 500.0}, "fraud"),
...            ({"event_id": "e2", "amount": 150.0}, "legit"),
...            ({"event_id": "e3", "amount": 20.0}, "fraud"),
...            ({"event_id": "e4", "amount": 900.0}, None)]
>>> result = backtest(rule, history)
>>> result.matched_fraud, result.matched_legit, result.matched_unlabelled, result.total_fraud
(1, 1, 1, 2)
>>> result.examples_fraud, result.precision
(['e1'], 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rules.compiler import Lists, Rule

Label = str | None


@dataclass
class BacktestResult:
    """Counts of the records the rule matched, by label, out of the totals seen,
    with up to ``max_examples`` event ids of each matched kind."""

    rule: str
    matched_fraud: int = 0
    matched_legit: int = 0
    matched_unlabelled: int = 0
    total_fraud: int = 0
    total_legit: int = 0
    total_unlabelled: int = 0
    examples_fraud: list[str] = field(default_factory=list)
    examples_legit: list[str] = field(default_factory=list)
    examples_unlabelled: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return self.matched_fraud + self.matched_legit + self.matched_unlabelled

    @property
    def precision(self) -> float | None:
        """Share of fraud among the matched labelled records (None when none was matched)."""
        labelled = self.matched_fraud + self.matched_legit
        return self.matched_fraud / labelled if labelled else None

    @property
    def recall(self) -> float | None:
        """Share of all fraud that the rule matched (None without fraud)."""
        return self.matched_fraud / self.total_fraud if self.total_fraud else None


def backtest(
    rule: Rule,
    records: Iterable[tuple[Mapping[str, object], Label]],
    lists: Lists | None = None,
    max_examples: int = 5,
) -> BacktestResult:
    """Run ``rule`` over ``(values, label)`` records, label ``'fraud'``, ``'legit'`` or None.
    Example ids come from each record's ``event_id``."""
    result = BacktestResult(rule.text)
    named = lists or {}
    for values, label in records:
        kind = "fraud" if label == "fraud" else "legit" if label == "legit" else "unlabelled"
        setattr(result, f"total_{kind}", getattr(result, f"total_{kind}") + 1)
        if not rule.predicate(values, named):
            continue
        setattr(result, f"matched_{kind}", getattr(result, f"matched_{kind}") + 1)
        examples: list[str] = getattr(result, f"examples_{kind}")
        if len(examples) < max_examples:
            examples.append(str(values.get("event_id")))
    return result
