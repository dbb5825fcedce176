"""The cold-start anomaly model: River's Half-Space Trees frozen to numpy, served as a version.

A hand-made outlier (an amount far above its card's normal, a new device, a burst of
payments) must score far above ordinary payments and be explained by those features;
the frozen scores must be River's; the registry must serve it through ``BatchModel``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from explain.decision_reasons import decision_reasons
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES
from models.anomaly import ANOMALY_FEATURES, KIND, AnomalyModel, train_anomaly
from models.batch_model import BatchModel
from models.errors import ModelIntegrityError
from models.loading import ModelRegistry

N = 6000


def _normal_payments(n: int, seed: int = 5) -> np.ndarray:
    """Ordinary card payments: amounts near the card's 30-day average, a few a day."""
    rng = np.random.default_rng(seed)
    x = np.full((n, len(FEATURE_NAMES)), np.nan)
    avg = rng.lognormal(3.5, 0.6, n)
    ratio = rng.lognormal(0.0, 0.35, n)
    col = FEATURE_INDEX
    x[:, col["amount"]] = avg * ratio
    x[:, col["card_amount_avg_30d"]] = avg
    x[:, col["amount_to_card_avg_30d"]] = ratio
    x[:, col["amount_zscore_card_30d"]] = rng.normal(0, 1, n)
    x[:, col["card_count_30d"]] = rng.integers(5, 60, n)
    x[:, col["card_count_1h"]] = rng.integers(0, 2, n)
    x[:, col["card_count_24h"]] = rng.integers(0, 4, n)
    x[:, col["card_amount_sum_24h"]] = x[:, col["card_count_24h"]] * avg
    x[:, col["card_seconds_since_previous"]] = rng.lognormal(11, 1, n)
    x[:, col["card_distinct_merchants_24h"]] = np.minimum(x[:, col["card_count_24h"]], 2)
    x[:, col["card_distinct_countries_24h"]] = 1
    x[:, col["device_seconds_since_first"]] = rng.lognormal(15, 0.5, n)
    x[:, col["email_seconds_since_first"]] = rng.lognormal(15, 0.5, n)
    x[:, col["device_distinct_cards_24h"]] = 1
    x[:, col["ip_distinct_cards_24h"]] = rng.integers(1, 3, n)
    x[:, col["email_distinct_cards_24h"]] = 1
    x[:, col["card_ip_country_mismatch"]] = rng.random(n) < 0.05
    x[:, col["card_merchant_country_mismatch"]] = rng.random(n) < 0.05
    return x


def _outlier(base: np.ndarray) -> np.ndarray:
    """One payment 40× its card's average, from a device first seen a minute ago, 8th in an hour."""
    row = base.copy()
    col = FEATURE_INDEX
    avg = row[col["card_amount_avg_30d"]]
    row[col["amount"]] = 40 * avg
    row[col["amount_to_card_avg_30d"]] = 40.0
    row[col["amount_zscore_card_30d"]] = 25.0
    row[col["card_count_1h"]] = 8
    row[col["card_count_24h"]] = 9
    row[col["card_amount_sum_24h"]] = 60 * avg
    row[col["card_seconds_since_previous"]] = 30.0
    row[col["device_seconds_since_first"]] = 60.0
    row[col["card_distinct_merchants_24h"]] = 2  # as busy cards have: not what makes it odd
    return row


@pytest.fixture(scope="module")
def fitted() -> tuple[AnomalyModel, np.ndarray]:
    x = _normal_payments(N)
    return AnomalyModel.fit(x, seed=3, n_trees=30, height=8, window=4000), x


def test_a_hand_made_outlier_scores_far_above_ordinary_payments(fitted):
    model, _ = fitted
    normal = _normal_payments(2000, seed=9)
    p_normal = model.predict_proba(normal)
    odd = np.vstack([_outlier(normal[i]) for i in range(20)])
    p_odd = model.predict_proba(odd)
    assert np.median(p_normal) < 0.05
    assert p_odd.min() > 0.5 > np.quantile(p_normal, 0.99)


def test_the_outliers_reasons_name_what_made_it_unusual(fitted):
    model, _ = fitted
    row = _outlier(_normal_payments(1, seed=13)[0])[None, :]
    contributions, base = model.contributions(row)
    assert contributions.sum() + base[0] == pytest.approx(model.margin(row)[0])  # additive, like SHAP
    top = [FEATURE_NAMES[j] for j in np.argsort(-contributions[0])[:3]]
    unusual = {
        "amount",
        "amount_to_card_avg_30d",
        "amount_zscore_card_30d",
        "card_count_1h",
        "card_count_24h",
        "card_amount_sum_24h",
        "card_seconds_since_previous",
        "device_seconds_since_first",
    }
    assert set(top) <= unusual and "amount_to_card_avg_30d" in top
    p = float(model.predict_proba(row)[0])
    reasons = decision_reasons(
        row[0], contributions[0], "EUR", 3, 0, p_batch=p, p_online=None, p_blend=p, weight=0.0
    )
    assert len(reasons) == 3 and all(r["feature"] in unusual for r in reasons)
    # Features the anomaly model does not use get no contribution.
    unused = [j for j, n in enumerate(FEATURE_NAMES) if n not in ANOMALY_FEATURES]
    assert not contributions[0, unused].any()


def test_frozen_scores_are_rivers_own(fitted):
    model, x = fitted
    rows = x[:300]
    river = model._river
    u = model.unit(rows)
    ours = model.score(rows)
    for i in range(len(rows)):
        features = {str(j): float(v) for j, v in enumerate(u[i]) if v == v}
        assert ours[i] == pytest.approx(river.score_one(features), abs=1e-12)


def test_json_round_trip_is_exact_and_a_foreign_document_is_refused(fitted):
    model, x = fitted
    back = AnomalyModel.from_json(model.to_json())
    np.testing.assert_array_equal(back.predict_proba(x[:500]), model.predict_proba(x[:500]))
    np.testing.assert_array_equal(back.contributions(x[:5])[0], model.contributions(x[:5])[0])
    with pytest.raises(ModelIntegrityError, match="not a JSON object"):
        AnomalyModel.from_json(b"\x80\x04pickle")
    with pytest.raises(ModelIntegrityError, match="not a riskwire-anomaly-hst/1"):
        AnomalyModel.from_json(json.dumps({"format": "other"}).encode())
    doc = json.loads(model.to_json())
    doc["features"][0] = "no_such_feature"
    with pytest.raises(ModelIntegrityError, match="catalogue lacks"):
        AnomalyModel.from_json(json.dumps(doc).encode())


def test_a_registered_anomaly_version_serves_through_batch_model(tmp_path):
    x = _normal_payments(3000)
    times = np.arange(len(x), dtype=np.int64) * 60_000  # one payment a minute: about 2 days
    y = np.zeros(len(x), dtype=np.int8)
    odd = np.vstack([_outlier(x[i]) for i in range(30)])
    x[:30], y[:30] = odd, 1  # a few known frauds, to measure the unsupervised score
    version, body, manifest = train_anomaly(x, times, y, seed=2, reviews_per_day=20)
    assert manifest["kind"] == KIND
    assert manifest["decision_policy"]["block_from"] == 101  # an anomaly is reviewed, never blocked
    assert manifest["metrics"]["known_frauds_auc_roc"] > 0.95
    registry = ModelRegistry(tmp_path)
    registry.save(version, body, manifest)
    model = BatchModel(registry.load())
    assert model.version == version and model.anomaly is not None
    p = model.predict_proba(x[:100])
    assert p[:30].min() > np.quantile(p[30:], 0.95)
    contributions, base = model.contributions(x[:3])
    np.testing.assert_allclose(contributions.sum(axis=1) + base, model.margin(x[:3]))


def test_cli_trains_an_unsupervised_version_without_labels(tmp_path):
    from cli.main import main
    from simulator.jsonl import write_jsonl
    from simulator.simulation import SimulationConfig, simulate

    sim = simulate(SimulationConfig(seed=4, days=3, cards=150, merchants=30))
    write_jsonl(tmp_path / "tx.jsonl", sim.transactions)
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--unsupervised",
            "--transactions",
            str(tmp_path / "tx.jsonl"),
            "--model-dir",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "anomaly model" in result.output and "never blocks" in result.output
    card = ModelRegistry(tmp_path / "m").load().manifest
    assert card["kind"] == KIND and "known_frauds" not in card["metrics"]
    missing = CliRunner().invoke(main, ["train", "--transactions", str(tmp_path / "tx.jsonl")])
    assert missing.exit_code == 2 and "--labels is required" in missing.output
