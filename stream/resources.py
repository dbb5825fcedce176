"""Opening what the pipeline needs (Redis, the model, the publisher) from settings."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from contracts.settings import Settings
from explain.risk_score import RiskPolicy
from features.online_store import OnlineFeatureStore
from models.batch_model import BatchModel
from models.registry import ModelRegistry
from pipeline.decision_store import DecisionStore
from pipeline.scoring import ScoringPipeline


@dataclass
class PipelineResources:
    redis: aioredis.Redis
    pipeline: ScoringPipeline

    async def close(self) -> None:
        await self.redis.aclose()


def open_pipeline(settings: Settings, client: aioredis.Redis | None = None) -> PipelineResources:
    """Build the scoring pipeline on the current registered model."""
    # Timeouts turn a hung Redis into an error the worker retries, not a silent stall.
    client = client or aioredis.Redis.from_url(
        settings.redis,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
    )
    model = BatchModel(ModelRegistry(settings.model_dir).load())
    pipeline = ScoringPipeline(
        features=OnlineFeatureStore(
            client, dedupe_ttl_s=settings.event_dedupe_ttl_s, grace_ms=settings.late_grace_s * 1000
        ),
        decisions=DecisionStore(client, ttl_s=settings.decision_ttl_s),
        model=model,
        policy=RiskPolicy(elevated=settings.elevated_threshold, highest=settings.highest_threshold),
        top_reasons=settings.top_reasons,
    )
    return PipelineResources(redis=client, pipeline=pipeline)
