"""Building the scoring pipeline from settings: one recipe for worker, API and replay."""

from __future__ import annotations

import redis.asyncio as aioredis

from contracts.settings import Settings
from explain.risk_score import RiskPolicy
from features.online_store import OnlineFeatureStore
from models.batch_model import BatchModel
from models.registry import ModelRegistry
from pipeline.decision_store import DecisionStore
from pipeline.scoring import ScoringPipeline
from rules.live import LiveRules
from rules.store import RuleStore


def build_pipeline(
    settings: Settings, client: aioredis.Redis, model_version: str | None = None
) -> ScoringPipeline:
    """The pipeline on ``client`` with a registered model (raises ``ModelError`` without one)."""
    return ScoringPipeline(
        features=OnlineFeatureStore(
            client, dedupe_ttl_s=settings.event_dedupe_ttl_s, grace_ms=settings.late_grace_s * 1000
        ),
        decisions=DecisionStore(client, ttl_s=settings.decision_ttl_s),
        model=BatchModel(ModelRegistry(settings.model_dir).load(model_version)),
        policy=RiskPolicy(elevated=settings.elevated_threshold, highest=settings.highest_threshold),
        top_reasons=settings.top_reasons,
        lowering_reasons=settings.lowering_reasons,
        rules=LiveRules(RuleStore(client)),
    )
