"""Opening what the pipeline needs (Redis, the model, the publisher) from settings."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.settings import Settings
from pipeline.factory import build_pipeline
from pipeline.scoring import ScoringPipeline
from store.connect import AsyncRedis, async_client


@dataclass
class PipelineResources:
    redis: AsyncRedis
    pipeline: ScoringPipeline

    async def close(self) -> None:
        await self.redis.aclose()


def open_pipeline(settings: Settings, client: AsyncRedis | None = None) -> PipelineResources:
    """Build the scoring pipeline on the current registered model, following the registry."""
    client = client or open_redis(settings)
    pipeline = build_pipeline(settings, client, follow=True)
    return PipelineResources(redis=client, pipeline=pipeline)


def open_redis(settings: Settings) -> AsyncRedis:
    # Timeouts turn a hung Redis into an error the worker retries, not a silent stall.
    return async_client(
        settings,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
    )
