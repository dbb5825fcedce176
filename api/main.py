"""The FastAPI application: wires routers; resources open in ``lifespan``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI

from api.routers import decisions, health
from contracts.settings import Settings, get_settings
from pipeline.decision_store import DecisionStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(settings.redis)
        app.state.decisions = DecisionStore(client, ttl_s=settings.decision_ttl_s)
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(
        title="riskwire",
        summary="Look up fraud decisions and why they were made.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(decisions.router)
    return app
