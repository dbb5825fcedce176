"""A decision's reason lines on crafted rows (no model): which causes are listed, in
which order, with which values; the online model's line; the score's edges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explain.decision_reasons import decision_reasons
from explain.online_share import online_share_reason
from explain.reasons import explain_row, lowering_reasons, reason_text
from explain.risk_score import risk_score
from features.catalogue import FEATURE_NAMES

N = len(FEATURE_NAMES)


def _row(**values: float) -> np.ndarray:
    x = np.zeros(N)
    for name, v in values.items():
        x[FEATURE_NAMES.index(name)] = v
    return x


def _contrib(**values: float) -> np.ndarray:
    return _row(**values)


def test_decision_reasons_are_raising_then_lowering_then_the_online_share():
    x = _row(amount=250.0, card_count_30d=10.0, local_hour=3.0, is_weekend=1.0)
    c = _contrib(amount=0.9, local_hour=0.4, is_weekend=-0.3, card_count_24h=-0.6)
    lines = decision_reasons(x, c, "EUR", 2, 2, p_batch=0.1, p_online=0.7, p_blend=0.28, weight=0.3)
    assert [r["feature"] for r in lines] == [
        "amount",
        "local_hour",
        "card_count_24h",
        "is_weekend",
        "online_model",
    ]
    assert lines[0] == {
        "feature": "amount",
        "value": 250.0,
        "contribution": 0.9,
        "text": "Amount of 250.00 EUR",
    }
    assert lines[1]["text"] == "Paid at 03:00 local time"
    assert lines[3]["text"] == "Paid at the weekend"
    assert lines[4]["text"].endswith("raised the risk from 10% to 28%")


@pytest.mark.parametrize(("p_online", "weight"), [(None, 0.3), (0.7, 0.0)])
def test_no_online_line_without_an_online_probability_or_weight(p_online, weight):
    c = _contrib(amount=0.5)
    lines = decision_reasons(
        _row(), c, "EUR", 3, 3, p_batch=0.1, p_online=p_online, p_blend=0.1, weight=weight
    )
    assert [r["feature"] for r in lines] == ["amount"]


def test_explain_row_limits_each_list_and_skips_a_second_feature_of_a_listed_cause():
    c = _contrib(card_count_10m=0.8, card_count_1h=0.7, amount=0.5, local_hour=0.2, is_weekend=-0.1)
    up, down = explain_row(_row(), c, "EUR", 2, 5)
    # card_count_1h speaks for the same cause (recent card activity) as card_count_10m.
    assert [r["feature"] for r in up] == ["card_count_10m", "amount"]
    assert [r["feature"] for r in down] == ["is_weekend"]  # only negative contributions
    assert explain_row(_row(), c, "EUR", 0, 0) == ([], [])


def test_ties_are_listed_in_feature_order_in_both_lists():
    c = _contrib(local_hour=0.3, amount=0.3, is_weekend=-0.2, card_count_10m=-0.2)
    up, down = explain_row(_row(), c, "EUR", 5, 5)
    assert [r["feature"] for r in up] == ["amount", "local_hour"]
    assert [r["feature"] for r in down] == ["card_count_10m", "is_weekend"]


def test_a_missing_value_is_shown_as_none():
    x = _row()
    x[FEATURE_NAMES.index("card_seconds_since_previous")] = math.nan
    up, _ = explain_row(x, _contrib(card_seconds_since_previous=0.4), "EUR", 1, 0)
    assert up[0]["value"] is None
    assert up[0]["text"] == "First payment seen on this card in 30 days"


def test_lowering_reasons_leave_out_the_causes_given_besides():
    c = _contrib(card_count_10m=-0.8, is_weekend=-0.5, local_hour=-0.1, amount=0.3)
    besides = [{"feature": "card_count_1h"}]  # the same cause as card_count_10m
    got = lowering_reasons(_row(), c, "EUR", 5, besides)
    assert [r["feature"] for r in got] == ["is_weekend", "local_hour"]
    assert [r["feature"] for r in lowering_reasons(_row(), c, "EUR", 1)] == ["card_count_10m"]


def test_count_text_with_its_30_day_pace():
    row = {"card_count_24h": 3.0, "card_count_30d": 60.0}
    assert reason_text("card_count_24h", row, "EUR") == (
        "3 earlier payments on this card in the last 24 hours (its 30-day pace: 2.0 per 24 hours)"
    )
    row = {"card_amount_sum_24h": 50.0, "card_amount_sum_30d": 300.0, "card_count_30d": 5.0}
    assert reason_text("card_amount_sum_24h", row, "EUR") == (
        "50.00 EUR spent on this card in the last 24 hours (its 30-day pace: 10.00 EUR per 24 hours)"
    )
    assert reason_text("card_count_24h", {"card_count_24h": 1.0, "card_count_30d": 0.0}, "EUR") == (
        "1 earlier payment on this card in the last 24 hours"
    )


def test_zscore_and_country_texts():
    row = {"amount": 5.0, "amount_zscore_card_30d": -1.25, "card_amount_avg_30d": 40.0}
    assert reason_text("amount_zscore_card_30d", row, "EUR") == (
        "5.00 EUR is 1.2 standard deviations below this card's 30-day average of 40.00 EUR"
    )
    row = {"amount": 90.0, "amount_zscore_card_30d": 0.0, "card_amount_avg_30d": 40.0}
    assert "0.0 standard deviations above" in reason_text("amount_zscore_card_30d", row, "EUR")
    assert reason_text("card_ip_country_mismatch", {"card_ip_country_mismatch": 1.0}, "EUR") == (
        "Card's country differs from the IP address's"
    )
    assert reason_text("merchant_ip_country_mismatch", {"merchant_ip_country_mismatch": 0.0}, "EUR") == (
        "Merchant's country matches the IP address's"
    )
    assert reason_text("card_merchant_country_mismatch", {}, "EUR") == (
        "Country of the card or the merchant unknown"
    )


def test_online_share_lowering_and_small_percentages():
    line = online_share_reason(p_batch=0.2, p_online=0.004, p_blend=0.005, weight=0.25)
    assert line["text"] == (
        "The online model, learning from recent labels (25% of the blend), lowered the risk from 20% to 0.5%"
    )
    assert line["value"] == 0.004
    assert line["contribution"] == pytest.approx(math.log(0.005 / 0.995) - math.log(0.2 / 0.8))
    zero = online_share_reason(p_batch=0.0, p_online=0.0, p_blend=0.0, weight=0.1)
    assert zero["text"].endswith("agrees with the batch model (0%)")
    assert zero["contribution"] == 0.0
    edge = online_share_reason(p_batch=1.0, p_online=0.0, p_blend=0.0, weight=1.0)
    assert edge["contribution"] == pytest.approx(-2 * math.log((1 - 1e-9) / 1e-9), rel=1e-6)
    assert online_share_reason(p_batch=0.1, p_online=0.123456, p_blend=0.1, weight=0.1)["value"] == 0.1235


def test_risk_score_edges():
    assert risk_score(-0.2) == 0
    assert risk_score(1.3) == 100
    assert risk_score(0.004) == 0
    assert risk_score(0.005) == 1
    with pytest.raises(ValueError, match=r"^probability is NaN$"):
        risk_score(math.nan)


def test_lowering_reasons_leave_out_a_feature_that_is_its_own_cause():
    c = _contrib(amount=-0.8, is_weekend=-0.5)
    got = lowering_reasons(_row(), c, "EUR", 5, [{"feature": "amount"}])
    assert [r["feature"] for r in got] == ["is_weekend"]


def test_lowering_ties_in_feature_order_with_the_currency_in_the_text():
    c = _contrib(local_hour=-0.3, card_amount_sum_30d=-0.3, amount=-0.3)
    got = lowering_reasons(_row(amount=12.0, card_amount_sum_30d=40.0), c, "CHF", 5)
    assert [r["feature"] for r in got] == ["amount", "card_amount_sum_30d", "local_hour"]
    assert got[1]["text"] == "40.00 CHF spent on this card in the last 30 days"


@pytest.mark.parametrize("n", [N - 1, N + 1])
def test_a_row_of_the_wrong_length_is_refused(n):
    with pytest.raises(ValueError):
        explain_row(np.zeros(n), np.zeros(N), "EUR", 1, 1)
    with pytest.raises(ValueError):
        lowering_reasons(np.zeros(n), np.zeros(N), "EUR", 1)


def test_the_texts_of_figures_a_late_payment_does_not_know():
    """A payment on a card with earlier payments whose own figures are missing (it arrived
    late) says "not known"; the same gaps on a new card say there is nothing to compare."""
    nan = math.nan
    gaps = {
        "card_seconds_since_previous": nan,
        "card_seconds_since_first": nan,
        "amount_to_card_avg_30d": nan,
        "card_amount_avg_30d": nan,
        "card_amount_std_30d": nan,
        "amount_zscore_card_30d": nan,
    }
    late = {**gaps, "card_count_30d": 3.0}
    texts = {f: reason_text(f, late, "EUR") for f in gaps}
    assert texts == {
        "card_seconds_since_previous": (
            "Time since this card's previous payment not known (3 earlier payments in 30 days)"
        ),
        "card_seconds_since_first": "Not known when this card was first seen",
        "amount_to_card_avg_30d": "This card's 30-day average amount is not known for this payment",
        "card_amount_avg_30d": reason_text("card_amount_avg_30d", late, "EUR"),
        "card_amount_std_30d": "Too few payments on this card in 30 days to know how its amounts vary",
        "amount_zscore_card_30d": (
            "Too few varied payments on this card in 30 days to compare the amount with"
        ),
    }
    one = {**gaps, "card_count_30d": 1.0}
    assert reason_text("card_seconds_since_previous", one, "EUR") == (
        "Time since this card's previous payment not known (1 earlier payment in 30 days)"
    )
    new = {**gaps, "card_count_30d": 0.0}
    assert (
        reason_text("card_seconds_since_previous", new, "EUR") == "First payment seen on this card in 30 days"
    )
    assert reason_text("card_seconds_since_first", new, "EUR") == "First payment seen with this card"
    assert reason_text("amount_to_card_avg_30d", new, "EUR") == (
        "No earlier payments on this card in 30 days to compare the amount with"
    )
    for entity, what in (("device", "device"), ("email", "email address")):
        row = {f"{entity}_count_30d": 2.0, f"{entity}_seconds_since_first": nan}
        assert (
            reason_text(f"{entity}_seconds_since_first", row, "EUR") == f"First payment seen with this {what}"
        )
        row[f"{entity}_seconds_since_first"] = 2 * 86400 + 5
        assert (
            reason_text(f"{entity}_seconds_since_first", row, "EUR")
            == f"This {what} was first seen 2 days earlier"
        )
    # Whole units, rounded down: 90 minutes is "1 hour".
    assert reason_text("card_seconds_since_previous", {"card_seconds_since_previous": 5400.0}, "EUR") == (
        "Previous payment on this card was 1 hour earlier"
    )
