"""Operations: liveness, readiness, Prometheus metrics. No key needed."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.dependencies import get_app_settings, get_metrics, get_publisher, get_redis
from api.errors import error_responses
from api.metrics import ApiMetrics
from api.publisher import LabelPublisher
from api.schemas import Health, Readiness
from contracts.settings import Settings
from store.connect import AsyncRedis

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


async def _redis_ok(client: AsyncRedis, timeout_s: float) -> bool:
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout_s))
    except Exception:
        return False


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=error_responses(503),
    summary="Redis and Kafka are reachable and a model is loaded (503 otherwise)",
)
async def readyz(
    request: Request,
    client: Annotated[AsyncRedis, Depends(get_redis)],
    publisher: Annotated[LabelPublisher, Depends(get_publisher)],
    settings: Annotated[Settings, Depends(get_app_settings)],
) -> Readiness:
    redis_ok, kafka_ok = await asyncio.gather(
        _redis_ok(client, settings.api_probe_timeout_s), publisher.ping()
    )
    if not (redis_ok and kafka_ok):
        down = [name for name, ok in (("redis", redis_ok), ("kafka", kafka_ok)) if not ok]
        raise HTTPException(503, f"not ready: {' and '.join(down)} unreachable")
    scoring = request.app.state.scoring
    if scoring is None:
        raise HTTPException(503, f"not ready: no model loaded ({request.app.state.scoring_error})")
    return Readiness(status="ready", redis=True, kafka=True, model=scoring.live.model.version)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    summary="Prometheus metrics of this API process",
)
async def metrics(api_metrics: Annotated[ApiMetrics, Depends(get_metrics)]) -> Response:
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)
