"""Request dependencies; tests swap them with ``app.dependency_overrides``.

Resources are opened once in the application's lifespan and kept on
``app.state``; these functions hand them to the routes. ``require(role)``
authenticates the bearer key (401), charges its rate limit (429) and checks its
role (403; ``admin`` may do everything).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.explanations import Explainer
from api.metrics import ApiMetrics
from api.publisher import LabelPublisher
from api.tenancy import require_unbound
from contracts.settings import Settings
from pipeline.scoring import ScoringPipeline
from store.api_keys import KeyStore, Principal, Role
from store.audit import AuditLog
from store.connect import AsyncRedis
from store.decisions import DecisionStore
from store.reviews import ReviewStore

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rwk_…`")


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_redis(request: Request) -> AsyncRedis:
    client: AsyncRedis = request.app.state.redis
    return client


def get_decision_store(request: Request) -> DecisionStore:
    store: DecisionStore = request.app.state.decisions
    return store


def get_explainer(request: Request) -> Explainer:
    explainer: Explainer = request.app.state.explainer
    return explainer


def get_key_store(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


def get_audit_log(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


def get_review_store(request: Request) -> ReviewStore:
    reviews: ReviewStore = request.app.state.reviews
    return reviews


def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


def get_scoring_pipeline(request: Request) -> ScoringPipeline:
    """The pipeline behind ``POST /v1/score``; 503 while no model is registered."""
    pipeline: ScoringPipeline | None = request.app.state.scoring
    if pipeline is None:
        raise HTTPException(503, f"no model to score with: {request.app.state.scoring_error}")
    return pipeline


def get_publisher(request: Request) -> LabelPublisher:
    publisher: LabelPublisher = request.app.state.publisher
    return publisher


async def check_key(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """Authenticate the bearer key (401) and charge its rate limit (429), once per request."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known  # checked already, before the body was read (api/auth_first.py)
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "missing API key: send `Authorization: Bearer <key>`", challenge)
    verdict = await get_key_store(request).check(credentials.credentials)
    if verdict.principal is None:
        raise HTTPException(401, "invalid or revoked API key", challenge)
    request.state.principal = verdict.principal
    if verdict.retry_after_s > 0:
        wait = max(1, math.ceil(verdict.retry_after_s))
        raise HTTPException(429, f"rate limit exceeded: retry after {wait} s", {"Retry-After": str(wait)})
    return verdict.principal


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    return await check_key(request, credentials)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys with one of ``roles`` (or ``admin``)."""
    allowed = frozenset({Role.ADMIN, *roles})
    names = " or ".join(sorted(r.value for r in allowed))

    async def check_role(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(403, f"this needs a key with role {names}")
        return principal

    return check_role


AnalystKey = Annotated[Principal, Depends(require(Role.ANALYST))]
AdminKey = Annotated[Principal, Depends(require(Role.ADMIN))]


async def _global_admin(principal: AdminKey) -> Principal:
    require_unbound(principal, "this serves every account")
    return principal


#: An admin key bound to no account: for what serves every account (rules, lists, models).
GlobalAdminKey = Annotated[Principal, Depends(_global_admin)]
ServiceKey = Annotated[Principal, Depends(require(Role.SERVICE))]
