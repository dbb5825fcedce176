"""Backtest counts equal a direct computation over the same history."""

from __future__ import annotations

import random
from typing import Any

from contracts.records import Transaction
from rules import backtest, compile_rule, rule_values


def history(seed: int, n: int) -> list[tuple[dict[str, Any], str | None]]:
    rng = random.Random(seed)
    out: list[tuple[dict[str, Any], str | None]] = []
    for i in range(n):
        tx = Transaction.model_validate(
            {
                "event_id": f"e{i}",
                "occurred_at": "2026-01-01T10:00:00+00:00",
                "amount": round(rng.uniform(1, 3000), 2),
                "currency": "EUR",
                "card_id": f"c{rng.randrange(50)}",
                "merchant_id": "m1",
                "card_country": rng.choice(["FR", "DE"]),
                "ip_country": rng.choice(["FR", "DE", None]),
            }
        )
        values = rule_values(
            tx.model_dump(mode="json"),
            {"card_count_1h": rng.randrange(5)},
            risk_score=rng.randrange(101),
        )
        out.append((values, rng.choice(["fraud", "legit", None])))
    return out


def test_counts_equal_direct_computation() -> None:
    records = history(seed=5, n=2000)
    text = "review if :amount: > 1000 and :card_country: != :ip_country: or :card_id: in @watch"
    lists = {"watch": frozenset({"c1", "c2"})}
    result = backtest(compile_rule(text), records, lists, max_examples=3)

    def direct(v: dict[str, Any]) -> bool:
        mismatch = v["ip_country"] is not None and v["card_country"] != v["ip_country"]
        return (v["amount"] > 1000 and mismatch) or v["card_id"] in lists["watch"]

    for kind, label in (("fraud", "fraud"), ("legit", "legit"), ("unlabelled", None)):
        hits = [v["event_id"] for v, lab in records if lab == label and direct(v)]
        assert getattr(result, f"matched_{kind}") == len(hits) > 0
        assert getattr(result, f"total_{kind}") == sum(1 for _, lab in records if lab == label)
        assert getattr(result, f"examples_{kind}") == hits[:3]
    assert result.matched == sum(1 for v, _ in records if direct(v))
    assert result.precision == result.matched_fraud / (result.matched_fraud + result.matched_legit)
    assert result.recall == result.matched_fraud / result.total_fraud


def test_empty_history() -> None:
    result = backtest(compile_rule("block if :risk_score: >= 90"), [])
    assert (result.matched, result.precision, result.recall, result.examples_fraud) == (0, None, None, [])
