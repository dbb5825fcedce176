"""The chargeback delay distribution, estimated from truncated observations."""

from __future__ import annotations

import numpy as np
import pytest

from models.label_delay import LabelDelay


def test_truncated_delays_are_not_mistaken_for_short_ones():
    rng = np.random.default_rng(0)
    delays = rng.uniform(0.0, 20.0, 40_000)  # the truth: F(d) = d / 20 on [0, 20]
    ages = rng.uniform(0.0, 40.0, 40_000)
    seen = delays <= ages  # at the cutoff, only delays up to the payment's age are known
    naive = np.mean(delays[seen] <= 10.0)
    estimate = LabelDelay.fit(delays[seen], ages[seen])
    assert naive > 0.55  # what a plain empirical distribution would claim (the truth: 0.5)
    assert estimate.completeness(np.array([5.0, 10.0, 15.0])) == pytest.approx([0.25, 0.5, 0.75], abs=0.03)
    assert estimate.completeness(np.array([25.0, 100.0])).tolist() == [1.0, 1.0]


def test_weights_are_capped_and_no_delays_mean_complete_labels():
    estimate = LabelDelay.fit(np.array([10.0, 20.0]), np.array([30.0, 30.0]))
    assert estimate.weights(np.array([0.0]), floor=0.1).tolist() == [10.0]
    assert LabelDelay().completeness(np.array([0.0, 3.0])).tolist() == [1.0, 1.0]
