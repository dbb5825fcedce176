"""Explanations: exact TreeSHAP, reason texts, top reasons, the risk score and its policy,
and the decision records the pipeline builds from them."""

from __future__ import annotations

import asyncio
import itertools
import math
from pathlib import Path

import numpy as np
import orjson
import pytest
import redis.asyncio as aioredis
import shap
import xgboost as xgb

from api.explanations import Explainer, ModelCache
from contracts.records import Decision, DecisionKind, PublishedDecision, RiskLevel
from explain.reasons import GROUPS, TEMPLATES, check_catalogue, explain_row, reason_text, top_reasons
from explain.risk_score import RiskPolicy, risk_score
from features.aggregates import parse_aggregates
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES
from features.offline import OfflineFeatureEngine
from features.vectorize import vectorize
from models.batch_model import BatchModel, sigmoid
from models.blend import BlendConfig, Blender
from models.learner import OnlineLearner
from models.loading import ModelRegistry
from pipeline.live_state import LiveState
from pipeline.record_shapes import VECTOR_KEY, expand_features, topic_body
from pipeline.scoring import ScoringPipeline
from rules.compiler import RuleSet, compile_rule
from store.decisions import DecisionStore
from store.feature_state import OnlineFeatureStore, SyncOnlineFeatureStore

N_EVENTS = 3000


@pytest.fixture(scope="module")
def model(model_dir) -> BatchModel:
    return BatchModel(ModelRegistry(model_dir).load())


@pytest.fixture(scope="module")
def features(small_history) -> np.ndarray:
    txs = small_history[0][:N_EVENTS]
    raw = parse_aggregates(OfflineFeatureEngine().record_and_fetch(txs))
    return vectorize(txs, raw).values


# --- exact TreeSHAP -------------------------------------------------------------------------


def test_contributions_add_up_to_the_margin(model, features):
    x = features
    assert len(x) >= 2000 and np.isnan(x).any()
    contributions, base = model.contributions(x)
    assert contributions.shape == x.shape and base.shape == (len(x),)
    margin = model.margin(x)
    assert np.max(np.abs(contributions.sum(axis=1) + base - margin)) <= 1e-4
    # The margin and the probability agree with XGBoost's own DMatrix prediction.
    dm = xgb.DMatrix(x, missing=np.nan, feature_names=list(FEATURE_NAMES))
    np.testing.assert_allclose(margin, model.booster.predict(dm, output_margin=True), atol=1e-5)
    np.testing.assert_allclose(model.raw_proba(x), sigmoid(margin), rtol=1e-12)
    assert np.ptp(margin) > 1.0  # the model really separates rows


def test_contributions_equal_shap_tree_explainer(model, features):
    contributions, base = model.contributions(features)
    explainer = shap.TreeExplainer(model.booster)
    expected = np.asarray(explainer.shap_values(features))
    assert expected.shape == contributions.shape
    assert np.max(np.abs(contributions - expected)) <= 1e-4
    assert np.max(np.abs(base - float(np.ravel(explainer.expected_value)[0]))) <= 1e-4
    assert np.abs(contributions).sum() > 0


# --- reason texts ---------------------------------------------------------------------------

TYPICAL = {
    "amount": 1234.5,
    "card_count_1h": 3.0,
    "card_amount_sum_1h": 2500.75,
    "card_count_24h": 1.0,
    "card_amount_sum_24h": 99.9,
    "card_count_30d": 42.0,
    "card_amount_avg_30d": 148.73,
    "amount_to_card_avg_30d": 8.3,
    "card_seconds_since_previous": 2 * 3600 + 125.0,
    "merchant_count_1h": 0.0,
    "merchant_count_24h": 17.0,
    "card_merchant_country_mismatch": 1.0,
    "card_ip_country_mismatch": 0.0,
    "local_hour": 3.0,
    "is_weekend": 1.0,
    "channel_code": 2.0,
}

# Hand-written: what each sentence must say about the row above.
EXPECTED = {
    "amount": ["1,234.50 EUR"],
    "card_count_1h": ["3 earlier payments", "hour"],
    "card_amount_sum_1h": ["2,500.75 EUR", "hour"],
    "card_count_24h": ["1 earlier payment ", "24 hours"],
    "card_amount_sum_24h": ["99.90 EUR", "24 hours"],
    "card_count_30d": ["42 earlier payments", "30 days"],
    "card_amount_avg_30d": ["1,234.50 EUR", "8.3×", "148.73 EUR"],
    "amount_to_card_avg_30d": ["1,234.50 EUR", "8.3×", "148.73 EUR"],
    "card_seconds_since_previous": ["2 hours"],
    "merchant_count_1h": ["0 payments", "hour"],
    "merchant_count_24h": ["17 payments", "24 hours"],
    "card_merchant_country_mismatch": ["differs", "merchant"],
    "card_ip_country_mismatch": ["matches", "IP"],
    "local_hour": ["03:00"],
    "is_weekend": ["weekend"],
    "channel_code": ["ATM"],
}

# The rest of the catalogue (issue 3): typical values and what each sentence must say.
SPANS = {"10m": "10 minutes", "1h": "hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days"}
OWNERS = {
    "card": "on this card",
    "customer": "by this customer",
    "merchant": "at this merchant",
    "device": "from this device",
    "ip": "from this IP address",
    "email": "with this email address",
}
TYPICAL["merchant_count_7d"], TYPICAL["merchant_count_30d"] = 5.0, 120.0
for _e, _owner in OWNERS.items():
    for _w, _span in SPANS.items():
        TYPICAL.setdefault(f"{_e}_count_{_w}", 5.0)
        TYPICAL.setdefault(f"{_e}_amount_sum_{_w}", 1500.0)
        word = "earlier payments" if _e == "card" else "payments"
        EXPECTED.setdefault(f"{_e}_count_{_w}", [f"{int(TYPICAL[f'{_e}_count_{_w}'])} {word}", _owner, _span])
        EXPECTED.setdefault(
            f"{_e}_amount_sum_{_w}", [f"{TYPICAL[f'{_e}_amount_sum_{_w}']:,.2f} EUR", _owner, _span]
        )
TYPICAL.update(
    card_amount_std_30d=40.0,
    amount_zscore_card_30d=27.2,
    card_seconds_since_first=20 * 86400.0,
    device_seconds_since_first=90.0,
    email_seconds_since_first=3 * 3600.0,
    card_distinct_merchants_24h=4.0,
    card_distinct_merchants_7d=9.0,
    card_distinct_countries_24h=2.0,
    card_distinct_countries_7d=32.0,
    device_distinct_cards_24h=3.0,
    device_distinct_cards_7d=3.0,
    ip_distinct_cards_24h=12.0,
    ip_distinct_cards_7d=30.0,
    email_distinct_cards_24h=1.0,
    email_distinct_cards_7d=2.0,
    card_fraud_count_7d=1.0,
    card_fraud_count_30d=2.0,
    card_fraud_rate_7d=0.2,
    card_fraud_rate_30d=2 / 42,
    merchant_fraud_count_7d=3.0,
    merchant_fraud_count_30d=12.0,
    merchant_fraud_rate_7d=3 / 5,
    merchant_fraud_rate_30d=12 / 120,
    merchant_ip_country_mismatch=1.0,
)
EXPECTED.update(
    card_amount_std_30d=["40.00 EUR", "148.73 EUR"],
    amount_zscore_card_30d=["1,234.50 EUR", "27.2 standard deviations above", "148.73 EUR"],
    card_seconds_since_first=["card", "20 days"],
    device_seconds_since_first=["device", "1 minute "],
    email_seconds_since_first=["email", "3 hours"],
    card_distinct_merchants_24h=["4 different merchants", "24 hours", "(9 in the last 7 days)"],
    card_distinct_merchants_7d=["9 different merchants", "7 days"],
    card_distinct_countries_24h=["2 different merchant countries", "24 hours"],
    card_distinct_countries_7d=["32 or more different merchant countries", "7 days"],
    device_distinct_cards_24h=["3 different cards", "this device"],
    device_distinct_cards_7d=["3 different cards", "7 days"],
    ip_distinct_cards_24h=["12 different cards", "IP address", "(30 in the last 7 days)"],
    ip_distinct_cards_7d=["30 different cards", "IP address"],
    email_distinct_cards_24h=["1 different", "email"],
    email_distinct_cards_7d=["2 different cards", "email"],
    card_fraud_count_7d=["1 payment ", "card", "7 days", "fraud"],
    card_fraud_count_30d=["2 payments", "card", "30 days", "fraud"],
    card_fraud_rate_7d=["20%", "(1 of 5)", "fraud"],
    card_fraud_rate_30d=["5%", "(2 of 42)"],
    merchant_fraud_count_7d=["3 payments", "merchant", "fraud"],
    merchant_fraud_count_30d=["12 payments", "merchant"],
    merchant_fraud_rate_7d=["60%", "(3 of 5)"],
    merchant_fraud_rate_30d=["10%", "(12 of 120)"],
    merchant_ip_country_mismatch=["Merchant's country differs", "IP"],
)
# The entity's own normal is given for short windows: 42 payments in 30 days ≈ 1.4 a day.
EXPECTED["card_count_24h"].append("30-day pace: 1.4 per 24 hours")
EXPECTED["card_amount_sum_1h"].append("per hour")

# Features that can be NaN (vectorize: no earlier card payment, unknown country or channel).
NAN_EXPECTED = {
    "card_amount_avg_30d": "No earlier payments",
    "amount_to_card_avg_30d": "No earlier payments",
    "card_seconds_since_previous": "First payment",
    "card_merchant_country_mismatch": "unknown",
    "card_ip_country_mismatch": "unknown",
    "channel_code": "unknown",
    "card_amount_std_30d": "Too few payments",
    "amount_zscore_card_30d": "Too few",
    "card_seconds_since_first": "First payment",
    "device_seconds_since_first": "First payment",
    "merchant_ip_country_mismatch": "unknown",
    "card_fraud_rate_30d": "No earlier payments",
    "device_count_1h": "No device given",
    "ip_distinct_cards_7d": "No IP address given",
    "email_seconds_since_first": "No email address given",
    "customer_amount_sum_24h": "No customer given",
}


def test_every_feature_has_a_template():
    assert set(TEMPLATES) == set(FEATURE_NAMES)
    check_catalogue()
    with pytest.raises(KeyError):
        check_catalogue([*FEATURE_NAMES, "not_a_feature"])


@pytest.mark.parametrize("feature", FEATURE_NAMES)
def test_reason_text_for_typical_values(feature):
    text = reason_text(feature, TYPICAL, "EUR")
    assert isinstance(text, str) and text.strip() and not text[0].islower()
    for part in EXPECTED[feature]:
        assert part in text, (feature, text)


@pytest.mark.parametrize("feature", sorted(NAN_EXPECTED))
def test_reason_text_for_missing_values(feature):
    row = dict(TYPICAL)
    row[feature] = math.nan
    if feature in ("card_amount_avg_30d", "amount_to_card_avg_30d"):
        row["card_amount_avg_30d"] = row["amount_to_card_avg_30d"] = math.nan
    if feature == "card_fraud_rate_30d":
        row["card_count_30d"] = 0.0
    entity = feature.split("_")[0]
    if entity in ("card", "amount") and NAN_EXPECTED[feature] in ("No earlier payments", "First payment"):
        # "first"/"none" only for a card without earlier payments (tests/explain/test_reasons_missing.py
        # has the late payment of a busy card).
        row["card_count_30d"] = 0.0
    if entity in ("device", "ip", "email", "customer") and "First" not in NAN_EXPECTED[feature]:
        row[f"{entity}_count_30d"] = math.nan  # the payment names no such entity
    text = reason_text(feature, row, "EUR")
    assert text.strip() and NAN_EXPECTED[feature] in text, text
    assert "nan" not in text.lower(), text


@pytest.mark.parametrize(
    ("feature", "value", "part"),
    [
        ("card_seconds_since_previous", 0.001, "0 seconds"),
        ("card_seconds_since_previous", 59.0, "59 seconds"),
        ("card_seconds_since_previous", 60.0, "1 minute "),
        ("card_seconds_since_previous", 3 * 86400 + 5.0, "3 days"),
        ("local_hour", 23.0, "23:00"),
        ("is_weekend", 0.0, "weekday"),
        ("channel_code", 0.0, "online"),
        ("channel_code", 1.0, "in person"),
        ("channel_code", 3.0, "person to person"),
        ("card_merchant_country_mismatch", 0.0, "matches"),
        ("merchant_count_1h", 1.0, "1 payment "),
    ],
)
def test_reason_text_other_values(feature, value, part):
    assert part in reason_text(feature, {**TYPICAL, feature: value}, "EUR")


# --- top reasons ----------------------------------------------------------------------------


def _contribs(**by_name: float) -> np.ndarray:
    c = np.full(len(FEATURE_NAMES), -0.01)
    for name, v in by_name.items():
        c[FEATURE_INDEX[name]] = v
    return c


VALUES = np.array([TYPICAL[n] for n in FEATURE_NAMES])


def test_top_reasons_crafted():
    c = _contribs(amount_to_card_avg_30d=2.0, card_amount_avg_30d=1.5, card_count_1h=1.0, local_hour=0.5)
    got = top_reasons(VALUES, c, "EUR", 3)
    assert [r["feature"] for r in got] == ["amount_to_card_avg_30d", "card_count_1h", "local_hour"]
    assert [r["contribution"] for r in got] == [2.0, 1.0, 0.5]
    assert got[0]["value"] == 8.3 and "8.3×" in got[0]["text"]

    # The other member of the group wins when it is the stronger one.
    c = _contribs(card_amount_avg_30d=3.0, amount_to_card_avg_30d=2.9, channel_code=0.1)
    assert [r["feature"] for r in top_reasons(VALUES, c, "EUR", 3)] == ["card_amount_avg_30d", "channel_code"]

    # Only positive contributors; none at all when nothing raised the risk.
    assert top_reasons(VALUES, _contribs(amount=0.0), "EUR", 3) == []
    assert [r["feature"] for r in top_reasons(VALUES, _contribs(amount=0.2), "EUR", 3)] == ["amount"]
    assert top_reasons(VALUES, _contribs(amount=0.2), "EUR", 0) == []

    # A NaN value is reported as None, with a text that says it is unknown.
    values = VALUES.copy()
    values[FEATURE_INDEX["channel_code"]] = np.nan
    (only,) = top_reasons(values, _contribs(channel_code=0.7), "EUR", 3)
    assert only["value"] is None and "unknown" in only["text"]


def test_top_reasons_on_model_rows(model, features):
    x = features[:1500]
    contributions, _ = model.contributions(x)
    by_group: dict[str, set[str]] = {}
    for name, group in GROUPS.items():
        by_group.setdefault(group, set()).add(name)
    seen_pair_both_positive = 0
    for k in (1, 3, 5):
        for i in range(len(x)):
            got = top_reasons(x[i], contributions[i], "EUR", k)
            c = contributions[i]
            names = [r["feature"] for r in got]
            contribs = [r["contribution"] for r in got]
            assert len(got) <= k
            assert all(v > 0 for v in contribs)
            assert contribs == sorted(contribs, reverse=True)
            assert len(set(names)) == len(names)
            assert len({GROUPS.get(n, n) for n in names}) == len(names)  # one reason per cause
            for r in got:
                assert r["contribution"] == pytest.approx(float(c[FEATURE_INDEX[r["feature"]]]))
                assert r["text"]
            # Nothing left out: every stronger positive feature is listed or shares a listed group.
            if got:
                weakest = contribs[-1]
                stronger = {n for n in FEATURE_NAMES if c[FEATURE_INDEX[n]] > weakest}
                covered = {GROUPS.get(n, n) for n in names}
                assert {GROUPS.get(n, n) for n in stronger} <= covered
            positives = {GROUPS.get(n, n) for n in FEATURE_NAMES if c[FEATURE_INDEX[n]] > 0}
            assert len(got) == min(k, len(positives))
            if k == 3 and any(
                sum(c[FEATURE_INDEX[n]] > 0 for n in members) >= 2 for members in by_group.values()
            ):
                seen_pair_both_positive += 1
    assert seen_pair_both_positive > 0  # the grouping rule was exercised on real rows


# --- risk score and policy ------------------------------------------------------------------


def test_risk_score_is_monotone_and_bounded():
    grid = np.linspace(0.0, 1.0, 200_001)
    scores = [risk_score(float(p)) for p in grid]
    assert all(0 <= s <= 100 for s in scores)
    assert all(a <= b for a, b in itertools.pairwise(scores))
    assert scores[0] == 0 and scores[-1] == 100
    assert set(scores) == set(range(101))
    assert all(abs(s - 100 * p) <= 0.5 + 1e-9 for s, p in zip(scores, grid, strict=True))
    assert [risk_score(p) for p in (0.004, 0.006, 0.5, 0.644, 0.65, 0.746, 0.75)] == [
        0,
        1,
        50,
        64,
        65,
        75,
        75,
    ]
    assert risk_score(-0.1) == 0 and risk_score(1.3) == 100
    with pytest.raises(ValueError):
        risk_score(math.nan)


def test_risk_score_rounds_half_up_at_the_thresholds():
    # Exactly half a point below a threshold rounds up into it (not to the even score).
    assert 100 * 0.645 == 64.5 and 100 * 0.745 == 74.5
    assert risk_score(0.645) == 65 and risk_score(0.745) == 75
    policy = RiskPolicy()
    assert policy.assess(0.645) == (65, RiskLevel.ELEVATED, DecisionKind.REVIEW)
    assert policy.assess(0.745) == (75, RiskLevel.HIGHEST, DecisionKind.BLOCK)


def test_policy_boundaries_default():
    policy = RiskPolicy()
    assert (policy.elevated, policy.highest) == (65, 75)
    assert policy.level(0) is RiskLevel.NORMAL
    assert policy.level(64) is RiskLevel.NORMAL
    assert policy.level(65) is RiskLevel.ELEVATED
    assert policy.level(74) is RiskLevel.ELEVATED
    assert policy.level(75) is RiskLevel.HIGHEST
    assert policy.level(100) is RiskLevel.HIGHEST
    assert policy.assess(0.64) == (64, RiskLevel.NORMAL, DecisionKind.ALLOW)
    assert policy.assess(0.65) == (65, RiskLevel.ELEVATED, DecisionKind.REVIEW)
    assert policy.assess(0.74) == (74, RiskLevel.ELEVATED, DecisionKind.REVIEW)
    assert policy.assess(0.75) == (75, RiskLevel.HIGHEST, DecisionKind.BLOCK)


def test_policy_custom_thresholds():
    policy = RiskPolicy(elevated=30, highest=90)
    assert [policy.level(s) for s in (29, 30, 89, 90)] == [
        RiskLevel.NORMAL,
        RiskLevel.ELEVATED,
        RiskLevel.ELEVATED,
        RiskLevel.HIGHEST,
    ]
    assert policy.assess(0.5)[2] is DecisionKind.REVIEW
    same = RiskPolicy(elevated=80, highest=80)  # no elevated band
    assert [same.level(s) for s in (79, 80)] == [RiskLevel.NORMAL, RiskLevel.HIGHEST]
    edges = RiskPolicy(elevated=0, highest=100)
    assert [edges.level(s) for s in (0, 99, 100)] == [
        RiskLevel.ELEVATED,
        RiskLevel.ELEVATED,
        RiskLevel.HIGHEST,
    ]


@pytest.mark.parametrize(("elevated", "highest"), [(80, 70), (-1, 75), (65, 101), (101, 101)])
def test_policy_invalid_thresholds(elevated, highest):
    with pytest.raises(ValueError):
        RiskPolicy(elevated=elevated, highest=highest)


# --- decision records -----------------------------------------------------------------------


@pytest.mark.services
def test_decide_builds_valid_decision_records(services, redis_client, model, small_history):
    txs, _, fraud_ids = small_history
    batch = txs[:2000]
    raw = SyncOnlineFeatureStore(redis_client, dedupe_ttl_s=3600, grace_ms=3_600_000).record_and_fetch(batch)
    client = aioredis.Redis.from_url(services.redis_url)
    # This small model calibrates to a few isotonic steps (about 0, 0.77 and 1): one per decision.
    policy = RiskPolicy(elevated=50, highest=90)
    try:
        pipeline = ScoringPipeline(
            features=OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=3_600_000),
            decisions=DecisionStore(client, ttl_s=3600),
            live=LiveState(model),
            policy=policy,
            top_reasons=3,
            clock=lambda: 1_767_225_600.25,
        )
        out = pipeline.decide(batch, raw, started=1_767_225_600.0).records
    finally:
        asyncio.run(client.aclose())

    assert [d["event_id"] for d in out] == [t.event_id for t in batch]
    stored = [orjson.dumps(d) for d in out]
    decisions = [Decision.model_validate(d) for d in _served(model, stored)]
    published = [PublishedDecision.model_validate_json(topic_body(b)) for b in stored]
    assert [p.event_id for p in published] == [d.event_id for d in decisions]
    assert all(p.feature_vector is None for p in published)
    for p, d in zip(published, decisions, strict=True):
        assert p.model_dump(exclude={"reasons", "explained", "feature_vector"}) == d.model_dump(
            exclude={"reasons", "explained", "features"}
        )
        # Alerts are explained on the hot path, allowed payments by the API (the same reasons).
        assert p.explained == (p.decision is not DecisionKind.ALLOW) and d.explained
        assert p.reasons == (d.reasons if p.explained else [])
    expected_p = model.predict_proba(vectorize(batch, raw).values)
    for d, t, p in zip(decisions, batch, expected_p, strict=True):
        assert d.occurred_at == t.occurred_at
        assert d.probability == pytest.approx(float(p), rel=1e-12)
        assert (d.risk_score, d.risk_level, d.decision) == policy.assess(d.probability)
        assert list(d.features) == list(FEATURE_NAMES)
        assert d.features["amount"].value == t.amount
        raising = [r for r in d.reasons if r.contribution > 0]
        assert len(raising) <= 3 and len(d.reasons) - len(raising) <= 2
        assert d.reasons[: len(raising)] == raising and all(r.text for r in d.reasons)
        assert d.model.batch_version == model.version and d.model.batch_weight == 1.0
        assert d.latency_ms == pytest.approx(250.0)
    assert any(d.features["card_seconds_since_previous"].value is None for d in decisions)
    assert any(not d.features["card_count_30d"].complete for d in decisions)
    assert any(d.reasons for d in decisions)
    assert {d.decision for d in decisions} == set(DecisionKind)
    flagged = {d.event_id for d in decisions if d.decision is not DecisionKind.ALLOW}
    frauds = {t.event_id for t in batch} & fraud_ids
    assert len(flagged & frauds) / len(frauds) > 10 * len(flagged) / len(batch)


def test_lowering_reasons_are_the_strongest_negative_contributors():
    from explain.reasons import lowering_reasons

    c = _contribs(amount=-0.9, channel_code=-0.2, local_hour=0.5, card_amount_avg_30d=-0.4)
    got = lowering_reasons(VALUES, c, "EUR", 2)
    assert [r["feature"] for r in got] == ["amount", "card_amount_avg_30d"]
    assert all(r["contribution"] < 0 for r in got)
    assert lowering_reasons(VALUES, c, "EUR", 0) == []
    only_up = np.zeros(len(FEATURE_NAMES))
    only_up[FEATURE_INDEX["local_hour"]] = 0.5
    assert lowering_reasons(VALUES, only_up, "EUR", 2) == []


def test_a_cause_already_raising_the_risk_is_not_also_listed_as_lowering_it():
    from explain.reasons import lowering_reasons

    c = _contribs(amount_to_card_avg_30d=1.1, card_amount_avg_30d=-0.5, channel_code=-0.2)
    up = top_reasons(VALUES, c, "EUR", 3)
    assert [r["feature"] for r in up] == ["amount_to_card_avg_30d"]
    down = lowering_reasons(VALUES, c, "EUR", 2, up)
    assert "card_amount_avg_30d" not in [r["feature"] for r in down]
    assert down[0]["feature"] == "channel_code"


def test_explain_row_does_not_list_a_raising_cause_as_lowering():
    c = _contribs(amount_to_card_avg_30d=1.1, card_amount_avg_30d=-0.5, channel_code=-0.2)
    up, down = explain_row(VALUES, c, "EUR", 3, 2)
    assert [r["feature"] for r in up] == ["amount_to_card_avg_30d"]
    # card_amount_avg_30d speaks for the same cause (amount_vs_card) as the raising reason.
    assert "card_amount_avg_30d" not in [r["feature"] for r in down]
    assert down[0]["feature"] == "channel_code"
    raised = {GROUPS.get(r["feature"], r["feature"]) for r in up}
    assert not raised & {GROUPS.get(r["feature"], r["feature"]) for r in down}


# --- explanations on demand -----------------------------------------------------------------


def _served(model: BatchModel, stored: list[bytes]) -> list[dict]:
    """The records as the API serves them (features expanded, reasons filled in)."""
    cache = ModelCache(ModelRegistry(Path("/nonexistent")))
    cache.put(model)
    return Explainer(cache).present(stored)


class _Follower:
    """An ``OnlineFollower`` stand-in: a learner that has learned enough to have a weight."""

    def __init__(self, learner: OnlineLearner) -> None:
        self.learner = learner


class _Rules:
    """A ``LiveRules`` stand-in with fixed rules."""

    def __init__(self, *texts: str) -> None:
        self.rules = RuleSet(compile_rule(t) for t in texts)
        self.lists: dict[str, frozenset[str]] = {}

    def decide(self, values):
        return self.rules.decide(values, self.lists)


def test_on_demand_explanations_equal_the_worker_path(model, small_history):
    """For the same events, the reasons and contributions the API computes on demand for
    allowed payments are exactly those the worker computes with SHAP forced on."""
    txs, _, fraud_ids = small_history
    batch = txs[2000:3000]
    big = float(np.quantile([t.amount for t in batch], 0.97))
    raw = parse_aggregates(OfflineFeatureEngine().record_and_fetch(txs[:3000]))[2000:3000]
    x = vectorize(batch, raw).values
    # A floor on the blend weight: the online model's line shows whatever it has earned.
    learner = OnlineLearner(blender=Blender(BlendConfig(w_min=0.1)), origin=model.version)
    y = np.array([t.event_id in fraud_ids for t in txs[:2000]], dtype=np.int8)
    x_learn = vectorize(
        txs[:2000], parse_aggregates(OfflineFeatureEngine().record_and_fetch(txs[:2000]))
    ).values
    learner.learn(x_learn, y, model.predict_proba(x_learn))
    assert learner.blend(x, model.predict_proba(x)).online_weight > 0

    def pipeline(explain_all: bool) -> ScoringPipeline:
        return ScoringPipeline(
            features=None,  # type: ignore[arg-type]
            decisions=None,  # type: ignore[arg-type]
            live=LiveState(
                model,
                rules=_Rules(f"review if :amount: > {big:.2f}"),  # type: ignore[arg-type]
                online=_Follower(learner),  # type: ignore[arg-type]
            ),
            policy=RiskPolicy(elevated=30, highest=60),
            clock=lambda: 1_767_225_600.25,
            explain_all=explain_all,
        )

    forced = pipeline(True).decide(batch, raw, started=1_767_225_600.0).records
    lean = pipeline(False).decide(batch, raw, started=1_767_225_600.0).records
    by_rule = [d for d in lean if d["rules"]]
    assert by_rule and all(d["decision"] == "review" and d["explained"] for d in by_rule)
    allowed = [i for i, d in enumerate(lean) if d["decision"] == "allow"]
    alerts = [i for i, d in enumerate(lean) if d["decision"] != "allow"]
    assert len(allowed) > 100 and len(alerts) > 5
    assert all(lean[i]["reasons"] == [] and lean[i]["explained"] is False for i in allowed)
    assert all(lean[i]["reasons"] == forced[i]["reasons"] and lean[i]["explained"] for i in alerts)

    stored = [orjson.dumps(d) for d in lean]
    served = _served(model, stored)
    online_lines = 0
    for i, record in enumerate(served):
        assert record["explained"] is True
        assert record["reasons"] == forced[i]["reasons"], batch[i].event_id  # exactly, floats and texts
        online_lines += any(r["feature"] == "online_model" for r in record["reasons"])
        assert VECTOR_KEY not in record
        assert record["features"] == vectorize(batch, raw).record(i)  # the API contract's shape
    assert online_lines == len(served)

    # Full contributions on demand: the batch call's values for that row, adding up to the margin.
    cache = ModelCache(ModelRegistry(Path("/nonexistent")))
    cache.put(model)
    explainer = Explainer(cache)
    contributions, base = model.contributions(x)
    for i in allowed[:20] + alerts[:5]:
        got = explainer.explanation(stored[i])
        assert got is not None and got["model_version"] == model.version
        assert list(got["contributions"].values()) == contributions[i].tolist()
        assert got["base_value"] == float(base[i])
        assert abs(sum(got["contributions"].values()) + got["base_value"] - got["margin"]) <= 1e-4


def test_stored_topic_and_old_records(model, small_history):
    txs = small_history[0][:400]
    raw = parse_aggregates(OfflineFeatureEngine().record_and_fetch(txs))
    pipeline = ScoringPipeline(
        features=None,  # type: ignore[arg-type]
        decisions=None,  # type: ignore[arg-type]
        live=LiveState(model),
        policy=RiskPolicy(elevated=30, highest=60),
    )
    out = pipeline.decide(txs, raw, started=0.0).records
    matrix = vectorize(txs, raw)
    for i, d in enumerate(out):
        stored = orjson.dumps(d)
        lean = topic_body(stored)
        assert len(lean) <= 1500 and b"feature" not in lean.replace(b'"feature":', b"")
        full = orjson.loads(stored)
        vector = full.pop(VECTOR_KEY)
        assert orjson.loads(lean) == full  # the stored record minus its features, nothing else
        assert topic_body(stored, include_features=True) == stored
        assert vector["currency"] == txs[i].currency and vector["reason_counts"] == [3, 2]
        assert expand_features({VECTOR_KEY: vector}) == matrix.record(i)
    # A record stored before the compact shape: read as it is, published without features.
    old = orjson.loads(orjson.dumps(out[0]))
    old["features"] = matrix.record(0)
    del old[VECTOR_KEY], old["explained"]
    old_bytes = orjson.dumps(old)
    assert "features" not in orjson.loads(topic_body(old_bytes))
    (served,) = _served(model, [old_bytes])
    assert served == old and Decision.model_validate(served).explained
    # A vector of another catalogue cannot be expanded against this one.
    other = orjson.loads(orjson.dumps(out[0]))
    other[VECTOR_KEY]["catalogue"] = "0" * 12
    assert expand_features(other) == {}
