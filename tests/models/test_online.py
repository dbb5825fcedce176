"""The online model, the drift detectors and the blend rule, on synthetic streams."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.catalogue import FEATURE_NAMES
from models.blend import BlendConfig, Blender
from models.drift import ErrorDrift, PsiMonitor, batch_error
from models.errors import ModelIntegrityError
from models.online import OnlineConfig, OnlineModel
from models.reference import reference_distributions
from tests.models.synthetic import SYNTH_NAMES, concept, features, flipping_stream


def _trained(n: int = 1500, seed: int = 0) -> tuple[OnlineModel, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = features(rng, n, width=len(SYNTH_NAMES))
    y = (rng.random(n) < concept(x, 0)).astype(np.int8)
    model = OnlineModel(names=SYNTH_NAMES)
    model.learn_many(x, y)
    return model, x, y


def test_online_model_learns_a_concept_and_handles_missing_values():
    model, _x, y = _trained(3000)
    assert model.learned == len(y)
    assert set(model.model.weights) >= {f"{n}__missing" for n in SYNTH_NAMES}
    rng = np.random.default_rng(1)
    test = features(rng, 4000, width=len(SYNTH_NAMES))
    truth = concept(test, 0)
    p = model.predict_proba_many(test)
    assert np.corrcoef(p, truth)[0, 1] > 0.8
    # Up-weighted fraud, yet the probabilities stay on the labels' scale (SGD noise aside).
    assert p.mean() == pytest.approx(truth.mean(), rel=0.3)
    all_missing = np.full((1, len(SYNTH_NAMES)), np.nan)
    assert np.isfinite(model.predict_proba_many(all_missing)).all()


def test_prediction_matches_river_and_has_no_side_effect():
    model, x, _ = _trained(300)
    before = json.dumps(model.to_state())
    p = model.predict_proba_many(x[:50])
    assert json.dumps(model.to_state()) == before
    for i in range(5):  # the numpy scoring is River's own prediction, with the prior shift
        z = np.sign(x[i]) * np.log1p(np.abs(x[i]))
        present = {n: v for n, v in zip(SYNTH_NAMES, z.tolist(), strict=True) if np.isfinite(v)}
        feats = model.scaler.transform_one(present)
        feats.update({f"{n}__missing": 1.0 for n in SYNTH_NAMES if n not in present})
        margin = model.model._raw_dot_one(feats) + model.prior_shift()  # includes the bias
        assert p[i] == pytest.approx(1 / (1 + np.exp(-margin)), rel=1e-12)


def test_state_round_trip_is_exact_for_predictions_and_future_learning():
    model, x, _y = _trained(400)
    restored = OnlineModel.from_state(json.loads(json.dumps(model.to_state())), names=SYNTH_NAMES)
    np.testing.assert_array_equal(restored.predict_proba_many(x), model.predict_proba_many(x))
    rng = np.random.default_rng(5)
    more = features(rng, 300, width=len(SYNTH_NAMES))
    labels = (rng.random(300) < concept(more, 1)).astype(np.int8)
    model.learn_many(more, labels)
    restored.learn_many(more, labels)
    assert json.dumps(restored.to_state()) == json.dumps(model.to_state())
    np.testing.assert_array_equal(restored.predict_proba_many(x), model.predict_proba_many(x))


def test_online_state_of_other_features_or_format_is_refused():
    state = OnlineModel().to_state()
    with pytest.raises(ModelIntegrityError, match="other features"):
        OnlineModel.from_state({**state, "feature_names": [*FEATURE_NAMES, "new"]})
    with pytest.raises(ModelIntegrityError, match="not a"):
        OnlineModel.from_state({**state, "format": "pickle"})
    with pytest.raises(ModelIntegrityError, match="unreadable"):
        OnlineModel.from_state({**state, "weights": None})


def test_target_share_moves_probabilities_to_the_traffic_scale():
    rng = np.random.default_rng(3)
    x = features(rng, 2000, width=len(SYNTH_NAMES))
    y = (rng.random(2000) < 0.5).astype(np.int8)  # a feed that is half fraud
    feed = OnlineModel(names=SYNTH_NAMES)
    feed.learn_many(x, y)
    state = feed.to_state()
    config = {**state["config"], "target_share": 0.02}
    traffic = OnlineModel.from_state({**state, "config": config}, names=SYNTH_NAMES)
    assert feed.predict_proba_many(x).mean() == pytest.approx(0.5, abs=0.1)
    assert traffic.predict_proba_many(x).mean() == pytest.approx(0.02, rel=0.5)


# --- drift ------------------------------------------------------------------------------------


def test_adwin_fires_after_a_concept_flip_and_not_on_a_stable_stream():
    _x, y, p_batch, _ = flipping_stream(seed=2, before=4000, after=2000)
    errors = [batch_error(int(a), float(b)) for a, b in zip(y, p_batch, strict=True)]
    detector = ErrorDrift()
    fired = [i for i, e in enumerate(errors) if detector.update(e)]
    assert fired and 4000 < fired[0] < 4800
    calm = ErrorDrift()
    assert not any(calm.update(e) for e in errors[:4000] * 2)


def test_adwin_state_restores_the_same_detector_even_after_the_window_is_capped():
    rng = np.random.default_rng(0)
    stream = np.concatenate([rng.uniform(0, 0.1, 2500), rng.uniform(0.3, 0.6, 800)])
    a = ErrorDrift(max_window=1000)
    for i, e in enumerate(stream):
        if i in (999, 1001, 1500, 2600):  # restore at arbitrary points, including right after a cap
            a = ErrorDrift.from_state(json.loads(json.dumps(a.to_state())))
        fired = a.update(float(e))
        b_state = a.to_state()
        assert len(b_state["values"]) <= 1000
        if fired:
            assert i >= 2500
    reference = ErrorDrift(max_window=1000)
    fired_ref = [i for i, e in enumerate(stream) if reference.update(float(e))]
    replayed = ErrorDrift(max_window=1000)
    fired_replay = []
    for i, e in enumerate(stream):
        if i % 700 == 0:
            replayed = ErrorDrift.from_state(replayed.to_state())
        if replayed.update(float(e)):
            fired_replay.append(i)
    assert fired_ref and fired_replay == fired_ref
    assert replayed.to_state() == reference.to_state()


def test_psi_is_small_for_reference_traffic_and_large_for_shifted_traffic():
    rng = np.random.default_rng(0)
    x_ref = features(rng, 5000)
    scores_ref = rng.beta(1, 20, 5000)
    reference = reference_distributions(x_ref, FEATURE_NAMES, scores=scores_ref)
    monitor = PsiMonitor(reference, half_life=2000)
    for _ in range(10):
        monitor.update(features(rng, 500), rng.beta(1, 20, 500))
    stable = monitor.psi()
    assert set(stable) == {*FEATURE_NAMES, "score"}
    assert max(stable.values()) < 0.05
    assert monitor.drifted() == []
    shifted = features(rng, 500)
    shifted[:, 0] *= 5.0  # amounts five times larger
    shifted[:, 1] = np.nan  # a feature that stops arriving
    for _ in range(10):
        monitor.update(shifted, rng.beta(2, 5, 500))
    drifted = monitor.psi()
    assert drifted[FEATURE_NAMES[0]] > 0.25 and drifted[FEATURE_NAMES[1]] > 0.25 and drifted["score"] > 0.25
    assert drifted[FEATURE_NAMES[2]] < 0.05
    assert monitor.observed < 500 / (1 - 0.5 ** (500 / 2000)) + 1  # decayed counts: bounded memory
    names = {e.detector for e in monitor.drifted(threshold=0.25, min_observed=100)}
    assert {f"psi:{FEATURE_NAMES[0]}", f"psi:{FEATURE_NAMES[1]}", "psi:score"} <= names
    again = PsiMonitor(reference, half_life=2000)
    again.load_state(json.loads(json.dumps(monitor.to_state())))
    assert again.psi() == monitor.psi()


def test_psi_monitor_skips_features_the_reference_does_not_know():
    reference = reference_distributions(np.ones((10, 2)), FEATURE_NAMES[:2])
    monitor = PsiMonitor(reference)
    monitor.update(np.ones((5, len(FEATURE_NAMES))))
    assert set(monitor.psi()) == set(FEATURE_NAMES[:2])


# --- blend ------------------------------------------------------------------------------------


def test_blend_weight_stays_within_bounds_and_low_when_the_batch_model_is_better():
    blender = Blender(BlendConfig(w_min=0.1, w_max=0.7, warmup=50))
    assert blender.weight(learned=10) == 0.0  # the online model is still warming up
    rng = np.random.default_rng(0)
    for _ in range(2000):
        y = int(rng.random() < 0.05)
        blender.update(y, p_batch=0.6 if y else 0.02, p_online=0.3 if y else 0.06)
        assert 0.1 <= blender.weight(learned=100) <= 0.7
    assert blender.weight(learned=100) == 0.1


def test_a_drift_restarts_the_blends_evidence_and_the_weight_must_be_earned_again():
    cfg = BlendConfig(w_min=0.0, w_max=0.7, warmup=0)
    blender = Blender(cfg)
    rng = np.random.default_rng(1)
    for _ in range(500):  # the online model separates the classes, the batch model barely
        y = int(rng.random() < 0.3)
        blender.update(y, p_batch=0.35 if y else 0.25, p_online=0.8 if y else 0.1)
    assert blender.weight(0) == 0.7
    blender.drift()
    assert blender.weight(0) == 0.0  # a detection grants nothing by itself
    weights = []
    for _ in range(600):  # after the change the batch model is the better one
        y = int(rng.random() < 0.3)
        blender.update(y, p_batch=0.8 if y else 0.1, p_online=0.35 if y else 0.25)
        weights.append(blender.weight(0))
    assert max(weights) == 0.0


def test_blend_disabled_gives_the_online_model_no_weight():
    blender = Blender(BlendConfig(enabled=False, warmup=0))
    blender.drift()
    for _ in range(100):
        blender.update(1, p_batch=0.01, p_online=0.99)
    assert blender.weight(learned=10_000) == 0.0
    with pytest.raises(ValueError):
        BlendConfig(w_min=0.8, w_max=0.7)


def test_online_config_is_part_of_the_state():
    model = OnlineModel(OnlineConfig(learning_rate=0.1, max_pos_weight=3.0))
    assert OnlineModel.from_state(model.to_state()).config == model.config


def test_huge_raw_values_neither_overflow_nor_swing_the_model() -> None:
    # The warning: "overflow encountered in exp" on seconds since first seen.
    import warnings

    model = OnlineModel()
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 0.01, size=(200, len(FEATURE_NAMES)))  # a tiny variance per feature
    model.learn_many(x, (rng.random(200) < 0.1).astype(int))
    wild = np.full((2, len(FEATURE_NAMES)), 1e300)
    wild[1] = -1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow would raise here
        p = model.predict_proba_many(wild)
        model.learn_one(wild[0], 1)
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    assert np.isfinite(model.predict_proba_many(x)).all()
