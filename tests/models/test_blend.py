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
    b = Blender(BlendConfig(half_life=2.0, boost_half_life=4.0))
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


def test_weight_is_clipped_to_its_bounds():
    b = Blender(BlendConfig(w_min=0.2, w_max=0.6, warmup=0))
    b.loss_batch = 100.0  # hedge says ~1
    assert b.weight(learned=0) == 0.6
    b.loss_batch, b.loss_online = 0.0, 100.0  # hedge says ~0
    assert b.weight(learned=0) == 0.2
    b.loss_online = 0.0
    assert b.weight(learned=0) == 0.5


def test_weight_is_zero_during_warmup_and_when_disabled():
    b = Blender(BlendConfig(warmup=10))
    assert b.weight(learned=9) == 0.0
    assert b.weight(learned=10) == 0.5
    off = Blender(BlendConfig(enabled=False, warmup=0))
    assert off.weight(learned=1000) == 0.0


def test_drift_boost_keeps_the_weight_up_then_decays():
    b = Blender(BlendConfig(w_min=0.1, w_max=0.7, warmup=0, boost_half_life=1.0))
    b.loss_online = 100.0  # the hedge alone would give w_min
    assert b.weight(learned=0) == 0.1
    b.drift()
    assert b.boost == 1.0
    assert b.weight(learned=0) == pytest.approx(0.7)
    b.boost = 0.5
    assert b.weight(learned=0) == pytest.approx(0.1 + 0.5 * 0.6)


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
    BlendConfig(w_min=0.0, w_max=1.0)  # the closed bounds are allowed
    BlendConfig(w_min=0.5, w_max=0.5)


def test_state_round_trips_every_field():
    b = Blender(BlendConfig(w_min=0.05, warmup=3))
    b.loss_batch, b.loss_online, b.boost, b.labels = 1.25, 0.75, 0.5, 7
    state = b.to_state()
    assert state == {
        "config": {**state["config"], "w_min": 0.05, "warmup": 3},
        "loss_batch": 1.25,
        "loss_online": 0.75,
        "boost": 0.5,
        "labels": 7,
    }
    back = Blender.from_state(state)
    assert back.config == b.config
    assert (back.loss_batch, back.loss_online, back.boost, back.labels) == (1.25, 0.75, 0.5, 7)


@pytest.mark.parametrize("state", [{}, {"config": {"nope": 1}}, {"config": {}, "loss_batch": "x"}])
def test_unreadable_state_is_an_integrity_error(state):
    with pytest.raises(ModelIntegrityError, match="blend state unreadable"):
        Blender.from_state(state)


def test_default_config_is_used_without_one():
    assert Blender().config == BlendConfig()
    assert Blender().labels == 0
