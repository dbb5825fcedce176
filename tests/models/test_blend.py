"""The blend rule on hand-computed values: log-loss clipping, the hedge share, the bounds,
warm-up, the drift boost and its decay, and the state round trip."""

from __future__ import annotations

import math

import pytest

from models.blend import LOSS_EPS, BlendConfig, Blender, log_loss
from models.errors import ModelIntegrityError


def test_log_loss_of_each_class_and_its_clip():
    assert log_loss(1, 0.25) == pytest.approx(-math.log(0.25))
    assert log_loss(0, 0.25) == pytest.approx(-math.log(0.75))
    assert log_loss(1, 0.0) == pytest.approx(-math.log(LOSS_EPS))  # clipped: finite
    assert log_loss(0, 1.0) == pytest.approx(-math.log(LOSS_EPS))


def test_update_discounts_by_the_half_life_and_counts_labels():
    b = Blender(BlendConfig(half_life=2.0, boost_half_life=4.0, recalibration_rate=0.0))
    b.update(1, p_batch=0.5, p_online=0.25)
    assert (b.loss_batch, b.loss_online, b.labels) == pytest.approx((math.log(2), math.log(4), 1))
    b.boost = 0.5
    b.update(1, p_batch=0.5, p_online=0.25)
    # A half-life of two labels keeps sqrt(0.5) of the sum per label; the boost's, 0.5 ** 0.25.
    keep = 0.5**0.5
    assert b.loss_batch == pytest.approx((1 + keep) * math.log(2))
    assert b.loss_online == pytest.approx((1 + keep) * math.log(4))
    assert b.boost == pytest.approx(0.5 * 0.5**0.25)
    assert b.labels == 2


def test_hedge_weight_is_the_sigmoid_of_eta_times_the_loss_gap():
    b = Blender(BlendConfig(eta=2.0))
    assert b.hedge_weight() == 0.5
    b.loss_batch, b.loss_online = 1.0, 0.5
    assert b.hedge_weight() == pytest.approx(1 / (1 + math.exp(-1.0)))
    b.loss_batch, b.loss_online = 1e6, 0.0  # clamped, no overflow
    assert b.hedge_weight() == pytest.approx(1 / (1 + math.exp(-50.0)))
    b.loss_batch, b.loss_online = 0.0, 1e6
    assert b.hedge_weight() == pytest.approx(1 / (1 + math.exp(50.0)), rel=1e-9, abs=0.0)


def _feed(b: Blender, n: int, p_online_fraud: float, p_online_legit: float) -> None:
    """n labels, a third fraud; the batch model cannot tell them apart (0.3 for all)."""
    for i in range(n):
        y = int(i % 3 == 0)
        b.update(y, p_batch=0.3, p_online=p_online_fraud if y else p_online_legit)


def test_the_weight_is_earned_only_by_a_significant_lead():
    b = Blender(BlendConfig(warmup=0))
    assert b.weight(learned=0) == 0.0 and b.lead() == 0.0  # no evidence
    _feed(b, 300, 0.3, 0.3)  # the same forecasts: no lead
    assert b.lead() == pytest.approx(0.0, abs=1e-6)
    assert b.weight(learned=300) == 0.0
    _feed(b, 600, 0.9, 0.1)  # the online model separates the classes
    assert b.lead() > b.config.t_full
    assert b.weight(learned=900) == 0.7


def test_a_worse_online_model_earns_nothing_and_noise_earns_nothing():
    b = Blender(BlendConfig(warmup=0))
    _feed(b, 600, 0.1, 0.9)  # the online model is backwards
    assert b.lead() < 0 and b.weight(learned=600) == 0.0
    rng = __import__("random").Random(3)
    noisy = Blender(BlendConfig(warmup=0))
    for i in range(2000):  # the same model plus noise: a lead of a few hundredths of a se at most
        y = int(i % 3 == 0)
        p = 0.6 if y else 0.2
        noisy.update(y, p_batch=p, p_online=min(0.99, max(0.01, p + rng.uniform(-0.05, 0.05))))
    assert noisy.weight(learned=2000) == 0.0


def test_the_weight_ramps_between_t_earn_and_t_full_within_its_bounds():
    b = Blender(BlendConfig(w_min=0.1, w_max=0.6, warmup=0, t_earn=1.0, t_full=3.0))
    assert b.weight(learned=0) == 0.1  # the floor
    b.mass = b.mass_sq = 100.0  # 100 labels, no discount, one nat of mean lead and sd 5: t = 2
    b.loss_batch, b.loss_online, b.gap_sq = 100.0, 0.0, 100.0 * (25.0 + 1.0)
    assert b.lead() == pytest.approx(2.0)
    assert b.weight(learned=0) == pytest.approx(0.3)  # half-way from 0 to w_max, above the floor


def test_a_few_labels_after_a_start_or_a_drift_earn_nothing():
    b = Blender(BlendConfig(warmup=0, min_evidence=100))
    _feed(b, 60, 0.9, 0.1)  # a clear lead, but on 60 labels
    assert b.lead() == 0.0 and b.weight(learned=60) == 0.0
    _feed(b, 60, 0.9, 0.1)
    assert b.weight(learned=120) == 0.7
    b.drift()
    b.update(1, p_batch=0.01, p_online=0.99)  # one label: no variance, no verdict
    assert b.weight(learned=121) == 0.0


def test_class_weights_scale_each_labels_loss():
    b = Blender(BlendConfig(half_life=1e9, recalibration_rate=0.0))
    b.update(1, p_batch=0.5, p_online=0.25, weight=0.1)
    b.update(0, p_batch=0.5, p_online=0.25, weight=2.0)
    assert b.loss_batch == pytest.approx(0.1 * math.log(2) + 2.0 * math.log(2))
    assert b.loss_online == pytest.approx(0.1 * math.log(4) + 2.0 * math.log(4 / 3))


def test_recalibration_takes_calibration_out_of_the_comparison():
    # Same ranking, the online model's scores squeezed towards 0.5: recalibrated, no lead.
    b = Blender(BlendConfig(warmup=0, recalibration_rate=0.05))
    for i in range(3000):
        y = int(i % 3 == 0)
        b.update(y, p_batch=0.9 if y else 0.1, p_online=0.6 if y else 0.4)
    assert b.weight(learned=3000) == 0.0
    assert b.recal_online[0] > 2.0  # it learned to stretch the online model's logits


def test_weight_is_zero_during_warmup_and_when_disabled():
    b = Blender(BlendConfig(warmup=10))
    _feed(b, 600, 0.9, 0.1)
    assert b.weight(learned=9) == 0.0
    assert b.weight(learned=10) == 0.7
    off = Blender(BlendConfig(enabled=False, warmup=0))
    _feed(off, 600, 0.9, 0.1)
    assert off.weight(learned=1000) == 0.0


def test_drift_restarts_the_evidence_and_grants_nothing_by_itself():
    b = Blender(BlendConfig(warmup=0))
    _feed(b, 600, 0.9, 0.1)
    assert b.weight(learned=0) == 0.7
    b.drift()
    assert (b.loss_batch, b.loss_online, b.gap_sq, b.mass, b.mass_sq, b.boost) == (0, 0, 0, 0, 0, 1.0)
    assert b.weight(learned=0) == 0.0  # the labels after the change decide
    _feed(b, 600, 0.9, 0.1)
    assert b.weight(learned=0) == 0.7


def test_config_is_validated():
    with pytest.raises(ValueError, match="w_min <= w_max"):
        BlendConfig(w_min=0.8, w_max=0.7)
    with pytest.raises(ValueError, match="w_min <= w_max"):
        BlendConfig(w_min=-0.1)
    with pytest.raises(ValueError, match="w_min <= w_max"):
        BlendConfig(w_max=1.1)
    for bad in ({"half_life": 0.0}, {"boost_half_life": 0.0}, {"eta": 0.0}):
        with pytest.raises(ValueError, match="positive"):
            BlendConfig(**bad)
    with pytest.raises(ValueError, match="t_earn < t_full"):
        BlendConfig(t_earn=2.0, t_full=2.0)
    with pytest.raises(ValueError, match="recalibration_rate"):
        BlendConfig(recalibration_rate=-1.0)
    BlendConfig(w_min=0.0, w_max=1.0)  # the closed bounds are allowed
    BlendConfig(w_min=0.5, w_max=0.5)


def test_state_round_trips_every_field():
    b = Blender(BlendConfig(w_min=0.05, warmup=3))
    b.loss_batch, b.loss_online, b.boost, b.labels = 1.25, 0.75, 0.5, 7
    b.recal_batch, b.recal_online, b.gap_sq, b.mass, b.mass_sq = [1.5, -0.25], [0.5, 2.0], 3.0, 6.5, 4.25
    state = b.to_state()
    assert state == {
        "config": {**state["config"], "w_min": 0.05, "warmup": 3},
        "loss_batch": 1.25,
        "loss_online": 0.75,
        "boost": 0.5,
        "labels": 7,
        "recal_batch": [1.5, -0.25],
        "recal_online": [0.5, 2.0],
        "gap_sq": 3.0,
        "mass": 6.5,
        "mass_sq": 4.25,
    }
    back = Blender.from_state(state)
    assert back.config == b.config
    assert back.to_state() == state
    assert back.weight(learned=10) == b.weight(learned=10)


def test_a_state_from_before_the_earned_weight_loads_with_fresh_evidence():
    old = {
        "config": {"w_min": 0.1, "w_max": 0.7, "eta": 1.0, "half_life": 500.0,
                   "boost_half_life": 200.0, "warmup": 50, "enabled": True},
        "loss_batch": 3.0, "loss_online": 1.0, "boost": 0.0, "labels": 90,
    }  # fmt: skip
    b = Blender.from_state(old)
    assert (b.mass, b.recal_batch, b.recal_online) == (0.0, [1.0, 0.0], [1.0, 0.0])
    assert b.loss_batch == b.loss_online == 0.0  # its sums had no count: started afresh
    assert b.weight(learned=90) == 0.1  # its own floor until the new evidence earns more


@pytest.mark.parametrize("state", [{}, {"config": {"nope": 1}}, {"config": {}, "loss_batch": "x"}])
def test_unreadable_state_is_an_integrity_error(state):
    with pytest.raises(ModelIntegrityError, match="blend state unreadable"):
        Blender.from_state(state)


def test_default_config_is_used_without_one():
    assert Blender().config == BlendConfig()
    assert Blender().labels == 0
