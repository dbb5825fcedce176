"""Training with label delay, class weighting and calibration, on synthetic histories."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.catalogue import DAY_MS, FEATURE_NAMES
from models.calibration import Calibration, fit_isotonic, reliability_error, sigmoid
from models.errors import ModelIntegrityError
from models.training import TrainingSet, time_split, train
from tests.models.synthetic import history


@pytest.fixture(scope="module")
def data() -> TrainingSet:
    return history(seed=0, n=8000)


@pytest.fixture(scope="module")
def trained(data):
    return train(data, seed=5, rounds=80)


def test_split_counts_only_labels_known_at_the_cutoff(data):
    end = int(data.times_ms[-1])
    cutoff = end - 10 * DAY_MS
    split = time_split(data, cutoff_ms=cutoff, maturity_ms=5 * DAY_MS)
    mature_until = cutoff - 5 * DAY_MS
    assert split.valid.stop == int((data.times_ms <= mature_until).sum())
    assert split.immature_rows == len(data.times_ms) - split.valid.stop > 0
    assert split.train.stop == split.valid.start == int(split.valid.stop * 0.8)
    # Validation is later in event time than training.
    assert data.times_ms[split.train.stop - 1] <= data.times_ms[split.valid.start]
    rows = slice(0, split.valid.stop)
    known = (data.y[rows] == 1) & (data.fraud_reported_ms[rows] <= cutoff)
    np.testing.assert_array_equal(split.y[rows], known.astype(np.int8))
    late = int(data.y[rows].sum() - known.sum())
    assert late > 0  # some frauds of the mature window were charged back after the cutoff


def test_defaults_cutoff_at_the_last_label_and_maturity_from_history_length(data):
    split = time_split(data)
    assert split.cutoff_ms == int(data.fraud_reported_ms[data.y == 1].max())
    span = int(data.times_ms[-1] - data.times_ms[0])
    assert split.maturity_ms == min(30 * DAY_MS, span // 5)
    np.testing.assert_array_equal(split.y, data.y)  # every label is in by the last report


def test_manifest_records_the_label_policy_calibration_and_reference(trained, data):
    card = json.loads(json.dumps(trained.manifest))  # JSON-safe
    labels = card["labels"]
    assert set(labels) == {
        "cutoff",
        "maturity_days",
        "mature_until",
        "immature_rows_excluded",
        "frauds_reported_after_cutoff",
    }
    assert card["params"]["scale_pos_weight"] > 5  # fraud is rare: it is up-weighted
    cal = Calibration.from_manifest(card["calibration"])
    assert not cal.identity and cal.method == "isotonic"
    ref = card["reference"]
    assert list(ref["features"]) == list(FEATURE_NAMES)
    for block in [*ref["features"].values(), ref["score"]]:
        assert len(block["fractions"]) == len(block["edges"]) + 2  # bins + missing
        assert sum(block["fractions"]) == pytest.approx(1.0)
    assert ref["features"][FEATURE_NAMES[0]]["fractions"][-1] == pytest.approx(0.1, abs=0.02)
    m = card["metrics"]
    assert m["validation_log_loss"] < m["validation_log_loss_uncalibrated"]
    assert m["validation_auc_roc"] > 0.8


def test_same_inputs_give_the_same_model_bytes_and_card(data, trained):
    again = train(data, seed=5, rounds=80)
    assert again.model_bytes == trained.model_bytes
    strip = lambda card: {k: v for k, v in card.items() if k != "created_at"}  # noqa: E731
    assert strip(again.manifest) == strip(trained.manifest)
    assert train(data, seed=6, rounds=80).model_bytes != trained.model_bytes


def _margin(result, x):
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(result.model_bytes))
    return np.asarray(booster.inplace_predict(x, predict_type="margin", missing=np.nan), dtype=np.float64)


def test_calibrated_probabilities_are_reliable_on_held_out_data(trained):
    held = history(seed=99, n=20000)  # same world, later payments
    margin = _margin(trained, held.x)
    cal = Calibration.from_manifest(trained.manifest["calibration"])
    calibrated, raw = cal.apply(margin), sigmoid(margin)
    err_cal, err_raw = reliability_error(calibrated, held.y), reliability_error(raw, held.y)
    assert err_cal < 0.02 and err_cal < err_raw / 3
    assert calibrated.mean() == pytest.approx(held.y.mean(), rel=0.2)
    # Monotone in the margin, so the risk score ranks like the model.
    order = np.argsort(margin)
    assert np.all(np.diff(calibrated[order]) >= 0)


def test_models_from_other_seeds_and_subsets_agree_on_fraud_per_score_band(data):
    held = history(seed=123, n=30000)
    half = TrainingSet(
        x=data.x[::2],
        y=data.y[::2],
        times_ms=data.times_ms[::2],
        fraud_reported_ms=data.fraud_reported_ms[::2],
    )
    other = history(seed=7, n=8000)
    bands = [0.0, 0.05, 0.2, 0.5, 1.01]
    rates = []
    for result in (train(data, seed=1, rounds=80), train(half, seed=2, rounds=80), train(other, seed=3)):
        p = Calibration.from_manifest(result.manifest["calibration"]).apply(_margin(result, held.x))
        band = np.digitize(p, bands)
        rates.append([held.y[band == b].mean() for b in range(1, len(bands))])
    rates_arr = np.array(rates)
    # Each band means about the same fraud rate whichever model scored (top band: few rows).
    assert np.all(np.ptp(rates_arr, axis=0) < [0.03, 0.05, 0.08, 0.16]), rates_arr
    assert np.all(np.diff(rates_arr, axis=1) > 0)  # higher bands, more fraud, for every model


def test_calibration_table_is_validated():
    with pytest.raises(ModelIntegrityError, match="non-decreasing"):
        Calibration(margin=(0.0, 1.0), probability=(0.5, 0.2))
    with pytest.raises(ModelIntegrityError):
        Calibration.from_manifest({"margin": [0.0], "probability": ["x"]})
    cal = fit_isotonic(np.array([-3.0, -1.0, 0.0, 2.0, 3.0, 4.0]), np.array([0, 0, 1, 0, 1, 1]))
    p = cal.apply(np.linspace(-10, 10, 101))
    assert np.all(np.diff(p) >= 0) and p.min() > 0 and p.max() < 1


def test_calibration_is_strictly_increasing_on_flat_steps_and_beyond_the_end_knots():
    cal = Calibration(margin=(-1.0, 0.0, 1.0, 2.0), probability=(0.1, 0.3, 0.3, 0.8))
    # The flat step [0, 1] and both clipped ends keep the margin's order.
    p = cal.apply(np.linspace(-6.0, 6.0, 241))
    assert np.all(np.diff(p) > 0)
    # ... while moving no probability by more than the tie-break share.
    stairs = np.interp(np.linspace(-6.0, 6.0, 241), cal.margin, cal.probability)
    assert np.max(np.abs(p - stairs)) <= 1e-3


def test_calibration_margin_knots_must_be_non_decreasing():
    with pytest.raises(ModelIntegrityError, match="non-decreasing"):
        Calibration(margin=(0.0, -1.0, 2.0), probability=(0.1, 0.2, 0.3))
    with pytest.raises(ModelIntegrityError, match="non-decreasing"):
        Calibration.from_manifest({"margin": [1.0, 0.0], "probability": [0.2, 0.2]})
    Calibration(margin=(0.0, 0.0, 1.0), probability=(0.1, 0.2, 0.3))  # equal knots are fine


def test_validation_window_without_fraud_is_refused(data):
    y = data.y.copy()
    y[int(len(y) * 0.7) :] = 0
    bare = TrainingSet(x=data.x, y=y, times_ms=data.times_ms, fraud_reported_ms=data.fraud_reported_ms)
    with pytest.raises(ValueError, match="validation window"):
        train(bare)
