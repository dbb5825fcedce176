"""The review-capacity decision policy: fitted at training, applied by the scoring pipeline."""

from __future__ import annotations

import numpy as np

from contracts.records import DecisionKind, RiskLevel
from explain.risk_score import RiskPolicy
from models.decision_policy import fit_policy


def test_block_reaches_the_precision_target_and_reviews_fill_the_capacity() -> None:
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0.95, 1.0, 30), rng.uniform(0.2, 0.6, 200), rng.uniform(0, 0.05, 9770)])
    card = fit_policy(p, days=10.0, block_precision=0.9, reviews_per_day=12, elevated=65)
    assert card["block_from"] == 65  # the top 30 average above 0.9; never below elevated
    assert card["expected_block_precision"] >= 0.9
    assert 0 < card["expected_reviews_per_day"] <= 12
    scores = np.floor(p * 100 + 0.5)
    band = (scores >= card["review_from"]) & (scores < card["block_from"])
    assert band.sum() / 10.0 == card["expected_reviews_per_day"]
    # One score lower would have overfilled the queue.
    wider = (scores >= card["review_from"] - 1) & (scores < card["block_from"])
    assert wider.sum() / 10.0 > 12


def test_no_capacity_means_no_review_band() -> None:
    p = np.linspace(0, 1, 1001)
    card = fit_policy(p, days=1.0, block_precision=0.95, reviews_per_day=0, elevated=65)
    assert card["review_from"] == card["block_from"]
    assert card["expected_reviews_per_day"] == 0


def test_the_policy_decides_levels_stay_radars() -> None:
    manifest = {"decision_policy": {"review_from": 20, "block_from": 70}}
    on = RiskPolicy(capacity=True).for_model(manifest)
    assert on.assess(0.25)[1:] == (RiskLevel.NORMAL, DecisionKind.REVIEW)
    assert on.assess(0.68)[1:] == (RiskLevel.ELEVATED, DecisionKind.REVIEW)
    assert on.assess(0.72)[1:] == (RiskLevel.ELEVATED, DecisionKind.BLOCK)
    assert on.assess(0.10)[1:] == (RiskLevel.NORMAL, DecisionKind.ALLOW)
    # Off, or a model card without a policy: decisions follow the levels.
    off = RiskPolicy(capacity=False).for_model(manifest)
    assert off.assess(0.25)[2] is DecisionKind.ALLOW and off.assess(0.72)[2] is DecisionKind.REVIEW
    assert RiskPolicy(capacity=True).for_model({}).assess(0.8)[2] is DecisionKind.BLOCK


def test_the_search_breaks_an_aucpr_tie_by_log_loss_and_records_every_trial() -> None:
    import xgboost as xgb

    from models.search import search

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 4))
    y = ((x[:, 0] > 1.2) | (rng.random(3000) < 0.01)).astype(int)  # a sharp rule plus noise
    train_m, valid_m = xgb.DMatrix(x[:2000], label=y[:2000]), xgb.DMatrix(x[2000:], label=y[2000:])
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "aucpr"], "seed": 1}
    grid = ({"max_depth": 1, "eta": 0.05}, {"max_depth": 3, "eta": 0.3})
    booster, chosen, trials = search(params, train_m, valid_m, rounds=60, grid=grid)
    assert [t["max_depth"] for t in trials] == [1, 3]
    best = max(t["validation_aucpr"] for t in trials)
    tied = [t for t in trials if t["validation_aucpr"] >= best - 0.002]
    assert chosen["max_depth"] == min(tied, key=lambda t: t["validation_logloss"])["max_depth"]
    assert (
        booster.num_boosted_rounds()
        == next(t for t in trials if t["max_depth"] == chosen["max_depth"])["trees"]
    )
