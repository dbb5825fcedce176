"""The calibration helpers on small hand-checked inputs: the sigmoid, the isotonic fit's
knots, clipping and fraud weights, and the reliability error's equal-count bins."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import P_FLOOR, fit_isotonic, reliability_error, sigmoid


def test_sigmoid_values():
    got = sigmoid(np.array([-2.0, 0.0, 2.0]))
    np.testing.assert_allclose(got, [0.11920292, 0.5, 0.88079708], rtol=1e-7)


def test_isotonic_knots_of_a_separable_window_are_clipped_to_the_floor():
    cal = fit_isotonic(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 0, 1, 1]))
    assert cal.margin == (0.0, 1.0, 2.0, 3.0)
    assert cal.probability == pytest.approx((P_FLOOR, P_FLOOR, 1 - P_FLOOR, 1 - P_FLOOR))
    assert cal.method == "isotonic"


def test_isotonic_pools_a_violating_pair_into_its_mean():
    cal = fit_isotonic(np.array([0.0, 1.0, 2.0]), np.array([1, 0, 1]), floor=0.0)
    # (0, 1) violate the order: pooled to 0.5; the last stays 1.
    assert cal.probability[0] == pytest.approx(0.5)
    assert cal.probability[-1] == pytest.approx(1.0)


def test_fraud_weight_counts_a_known_fraud_that_many_times():
    margin, y = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 1, 0, 1])
    plain = fit_isotonic(margin, y, floor=0.0)
    weighted = fit_isotonic(margin, y, floor=0.0, fraud_weight=np.array([1.0, 1.0, 1.0, 0.5]))
    assert plain.probability[-1] == pytest.approx(1.0)
    assert weighted.probability[-1] == pytest.approx(0.5)  # the late fraud counts half


@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1, 1]])
def test_isotonic_needs_both_classes(y):
    whole = r"^calibration needs both frauds and legitimate payments in its window$"
    with pytest.raises(ValueError, match=whole):
        fit_isotonic(np.array([0.0, 1.0, 2.0]), np.array(y))


def test_isotonic_fits_a_window_with_a_single_fraud():
    cal = fit_isotonic(np.array([0.0, 1.0, 2.0]), np.array([0, 0, 1]), floor=0.0)
    assert cal.probability == pytest.approx((0.0, 0.0, 1.0))


def test_reliability_error_is_the_count_weighted_gap_over_equal_count_bins():
    p = np.array([0.1, 0.1, 0.9, 0.5])
    y = np.array([0, 1, 1, 0])
    # Sorted by p: [0.1, 0.1] | [0.5, 0.9]; gaps |0.1 - 0.5| = 0.4 and |0.7 - 0.5| = 0.2.
    assert reliability_error(p, y, bins=2) == pytest.approx((2 * 0.4 + 2 * 0.2) / 4)
    assert reliability_error(p, y, bins=1) == pytest.approx(abs(0.4 - 0.5))
    # Default: ten bins (here each payment alone, the rest empty and skipped).
    assert reliability_error(p, y) == pytest.approx((0.1 + 0.9 + 0.5 + 0.1) / 4)


def test_reliability_error_of_a_single_payment_and_of_none():
    assert reliability_error(np.array([0.25]), np.array([1])) == pytest.approx(0.75)
    assert reliability_error(np.array([]), np.array([])) == 0.0


def test_reliability_error_bins_ties_in_input_order():
    # Tied probabilities keep their input order (a stable sort), so the bins, and the error,
    # do not depend on the sort algorithm. 1000 payments tied at 0.5 span two bins of 500:
    # the first 500 of them (in input order) are the frauds, so each bin is off by 0.5.
    i = np.arange(1500)
    p = np.where(i % 3 == 0, 0.9, 0.5)
    y = ((i < 750) & (i % 3 != 0)).astype(np.int8)
    assert reliability_error(p, y, bins=3) == pytest.approx((500 * 0.5 + 500 * 0.5 + 500 * 0.9) / 1500)
