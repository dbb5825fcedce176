"""The FastAPI application: wires routers; resources open in ``lifespan``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from redis.exceptions import RedisError

from api import access_log, errors
from api.bodies import document_one_or_many
from api.console import install as install_console
from api.errors import without_paths
from api.explanations import Explainer, ModelCache
from api.limits import BodyLimit
from api.metrics import ApiMetrics, MetricsMiddleware
from api.publisher import LabelPublisher
from api.routers import audit, decisions, health, keys, labels, models, reviews, rules, scoring
from contracts.settings import Settings, get_settings
from models.errors import ModelError
from models.loading import ModelRegistry
from pipeline.factory import build_pipeline, decision_store
from pipeline.scoring import ScoringPipeline
from store.api_keys import KeyStore
from store.at_rest import AtRest
from store.audit import AuditLog
from store.connect import AsyncRedis, async_client
from store.decisions import DecisionWriter
from store.key_hash import key_pepper
from store.pg_decisions import PgDecisionStore
from store.pg_reviews import PgReviewStore
from store.reviews import ReviewStore

log = logging.getLogger("riskwire.api")

REDIS_SOCKET_TIMEOUT_S = 10.0


def _scoring_pipeline(
    settings: Settings, client: AsyncRedis, decisions: DecisionWriter
) -> tuple[ScoringPipeline | None, str]:
    """The worker's pipeline on the API's Redis and decision store, or why there is none
    (no model yet)."""
    try:
        # Promotions and shadow followed, as the worker does.
        pipeline = build_pipeline(settings, client, follow=True, decisions=decisions)
    except ModelError as exc:
        log.warning("POST /v1/score is unavailable: %s", exc)
        return None, without_paths(str(exc), settings.model_dir)
    return pipeline, ""


async def _migrate_keys(keys: KeyStore) -> None:
    """Keys stored before the pepper are re-stored under it (else they are refused)."""
    try:
        if moved := await keys.migrate():
            log.warning("re-stored %d API keys as HMAC-SHA-256 under the pepper", moved)
    except RedisError as exc:  # Redis down at start: /readyz says so; retried at next start
        log.warning("API keys not migrated (Redis: %s)", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = async_client(
            settings,
            socket_connect_timeout=settings.api_probe_timeout_s,
            socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        )
        audit_log = AuditLog(client, max_entries=settings.api_audit_max_entries)
        app.state.settings = settings
        app.state.redis = client
        app.state.audit = audit_log
        app.state.keys = keys = KeyStore(
            client,
            audit_log,
            rate_per_s=settings.api_rate_per_s,
            burst=settings.api_rate_burst,
            pepper=key_pepper(settings),
        )
        # PostgreSQL's when RISKWIRE_DATABASE_URL is set (issue 18), else Redis's.
        app.state.decisions = decision_records = decision_store(settings, client)
        app.state.reviews = (
            PgReviewStore(decision_records.pool, audit_log, AtRest.from_settings(settings))
            if isinstance(decision_records, PgDecisionStore)
            else ReviewStore(client, audit_log, AtRest.from_settings(settings))
        )
        publisher = LabelPublisher(
            settings.bootstrap,
            settings.topic_labels,
            timeout_s=settings.api_kafka_timeout_s,
            probe_timeout_s=settings.api_probe_timeout_s,
            security=settings,
        )
        app.state.publisher = publisher
        app.state.scoring, app.state.scoring_error = _scoring_pipeline(settings, client, decision_records)
        registry = ModelRegistry(settings.model_dir)
        models_by_version = ModelCache(registry, size=settings.api_model_cache_size)
        app.state.explainer = Explainer(
            models_by_version, reason_counts=(settings.top_reasons, settings.lowering_reasons)
        )
        if app.state.scoring is not None:
            models_by_version.put(app.state.scoring.live.model)
        await publisher.start()
        await _migrate_keys(keys)
        try:
            yield
        finally:
            await publisher.close()
            if isinstance(decision_records, PgDecisionStore):  # the scoring pipeline's too
                await decision_records.aclose()
            await client.aclose()

    app = FastAPI(
        title="riskwire",
        summary="Fraud decisions and why they were made, reviews and feedback, behind scoped API keys.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    access_log.install()  # no query strings (card ids, e-mails) in access logs
    app.state.metrics = metrics = ApiMetrics()
    # Outermost last: metrics see every answer, including the body cap's 413s.
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(health.router)
    app.include_router(decisions.router)
    app.include_router(reviews.router)
    app.include_router(labels.router)
    app.include_router(scoring.router)
    app.include_router(models.router)
    app.include_router(rules.router)
    app.include_router(keys.router)
    app.include_router(audit.router)
    install_console(app)  # the analyst console under /ui, after errors.install

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()
        document_one_or_many(spec, labels.router.prefix, "Labels")
        document_one_or_many(spec, scoring.router.prefix, "Transactions")
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
    return app
