"""Every reason template reads true when its feature, or the context it quotes, is missing."""

from __future__ import annotations

import math

import pytest

from explain.reasons import TEMPLATES
from features.catalogue import FEATURE_NAMES

NOTHING = {name: math.nan for name in FEATURE_NAMES}


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_every_template_survives_all_features_missing(name: str) -> None:
    text = TEMPLATES[name](NOTHING, "EUR")
    assert text and "nan" not in text.lower()


def test_a_late_payment_of_a_busy_card_is_not_called_its_first() -> None:
    # The record: no previous-payment gap (a late event), 171 payments in 30 days.
    late = {**NOTHING, "card_count_30d": 171.0, "amount": 50.0}
    for name in ("card_seconds_since_previous", "card_seconds_since_first", "amount_to_card_avg_30d"):
        text = TEMPLATES[name](late, "EUR")
        assert "first payment" not in text.lower() and "no earlier" not in text.lower(), text
    assert "171 earlier payments" in TEMPLATES["card_seconds_since_previous"](late, "EUR")


def test_a_new_card_still_reads_as_first_seen() -> None:
    new = {**NOTHING, "card_count_30d": 0.0}
    text = TEMPLATES["card_seconds_since_previous"](new, "EUR")
    assert text == "First payment seen on this card in 30 days"
