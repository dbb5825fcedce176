"""The live state: one refresh per batch follows the registry; decide() changes nothing."""

from __future__ import annotations

import asyncio

import numpy as np
import orjson

from explain.risk_score import RiskPolicy
from features.aggregates import parse_aggregates
from features.offline import OfflineFeatureEngine
from models.batch_model import BatchModel
from models.loading import ModelRegistry
from pipeline.live_state import SHADOW_CHECK_S, LiveState
from pipeline.scoring import ScoringPipeline
from store.decisions import index_fields


def test_refresh_follows_promotions_and_the_shadow_pointer(candidate_registry: ModelRegistry) -> None:
    registry = candidate_registry
    first = registry.current()
    now = [0.0]
    live = LiveState(BatchModel(registry.load()), registry=registry, monotonic=lambda: now[0])
    registry.promote("v2-candidate")
    registry.set_shadow(first)
    assert asyncio.run(live.refresh()).promoted is None, "not before the next check"
    assert live.snapshot().model.version == first
    now[0] = SHADOW_CHECK_S + 0.5  # past both checks (promotions: every 2 s too)
    change = asyncio.run(live.refresh())
    assert change.promoted is not None and change.promoted.version == "v2-candidate"
    assert change.previous == first and change.shadow_changed
    snap = live.snapshot()
    assert snap.model.version == "v2-candidate" and snap.shadow is not None and snap.shadow.version == first
    registry.set_shadow(None)
    now[0] += SHADOW_CHECK_S
    assert asyncio.run(live.refresh()).shadow_changed and live.snapshot().shadow is None

    pinned = LiveState(BatchModel(registry.load(first)))  # no registry: a replay of one version
    registry.promote(first)
    assert asyncio.run(pinned.refresh()).promoted is None and pinned.model.version == first


def test_decide_is_pure_and_reports_the_batch(model_dir, small_history) -> None:
    model = BatchModel(ModelRegistry(model_dir).load())
    txs = small_history[0][:300]
    raw = parse_aggregates(OfflineFeatureEngine().record_and_fetch(txs))
    live = LiveState(model, shadow=model)  # the champion as its own shadow
    pipeline = ScoringPipeline(
        features=None,  # type: ignore[arg-type]
        decisions=None,  # type: ignore[arg-type]
        live=live,
        policy=RiskPolicy(elevated=30, highest=60),
        clock=lambda: 1_767_225_600.25,
    )
    first = pipeline.decide(txs, raw, started=1_767_225_600.0)
    again = pipeline.decide(txs, raw, started=1_767_225_600.0)
    assert [orjson.dumps(r) for r in first.records] == [orjson.dumps(r) for r in again.records]
    assert live.shadow is model and live.model is model
    report = first.report
    assert report.model_version == model.version and report.shadow == {"same": len(txs)}
    assert report.features.shape[0] == len(txs)
    assert np.array_equal(report.probabilities, again.report.probabilities)
    # The index fields handed to the decision store are those its parser reads back.
    assert first.index == [index_fields(orjson.dumps(r), 0) for r in first.records]
