"""Models (admin): versions with their model cards, promote, roll back, the blend in use.

Promotion moves the registry's ``CURRENT`` pointer; workers and this API follow it
between batches (``models.hot_reload``), so no restart is needed. A key bound to an
account cannot change models: they serve every account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field

from api.auth_first import AuthFirstRoute
from api.dependencies import GlobalAdminKey, get_app_settings, get_audit_log, get_redis
from api.errors import PROTECTED, error_responses, without_paths
from api.tenancy import require_unbound
from contracts.settings import Settings
from models.errors import ModelIntegrityError, ModelNotFoundError
from models.learner import OnlineLearner
from models.loading import ModelRegistry
from pipeline.factory import checkpoint
from store.audit import AuditLog, entry_fields
from store.connect import AsyncRedis

router = APIRouter(prefix="/v1/models", tags=["models"], route_class=AuthFirstRoute)

#: A drift's boost halves every 200 labels; below this it no longer counts as "detected".
DRIFT_BOOST_SHOWN = 0.05
# A version names a registry folder: it starts with a letter or digit, so never `.` or `..`.
Version = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class ModelCard(BaseModel):
    version: str
    current: bool
    manifest: dict[str, Any] = Field(description="The model card: data range, features, parameters, metrics")


class ModelList(BaseModel):
    current: str | None
    items: list[ModelCard]


class Promotion(BaseModel):
    current: str
    previous: str | None


class Drift(BaseModel):
    detected: bool = Field(description="The blend is boosted toward the online model after a detected drift")
    detectors: list[str] = Field(description="Drift detectors running on the online learner")
    boost: float = Field(description="What is left of the last drift's boost (1 right after it, halving)")


class Blend(BaseModel):
    batch_version: str
    batch_weight: float
    online_version: str | None
    online_weight: float
    online_learned: int = Field(description="Labels the online model has learned")
    labels_pending: int = Field(description="Labels waiting for their event's decision")
    shadow_version: str | None = Field(description="A candidate scoring in shadow, never acted on")
    drift: Drift
    decision_policy: dict[str, Any] | None = Field(
        default=None,
        description="The current model's review-capacity policy (block from, review from, per day); "
        "null when decisions follow the risk levels",
    )


def _registry(settings: Annotated[Settings, Depends(get_app_settings)]) -> ModelRegistry:
    return ModelRegistry(settings.model_dir)


Registry = Annotated[ModelRegistry, Depends(_registry)]


def _current(registry: ModelRegistry) -> str | None:
    try:
        return registry.current()
    except ModelNotFoundError:
        return None


@router.get("", response_model=ModelList, responses=error_responses(*PROTECTED), summary="Model versions")
async def list_models(principal: GlobalAdminKey, registry: Registry) -> ModelList:
    current = _current(registry)
    items = []
    for version in reversed(registry.versions()):
        try:
            manifest = registry.load(version).manifest
        except (ModelIntegrityError, ModelNotFoundError) as exc:
            manifest = {"error": str(exc)}
        items.append(ModelCard(version=version, current=version == current, manifest=manifest))
    return ModelList(current=current, items=items)


@router.get(
    "/current",
    response_model=Blend,
    responses=error_responses(*PROTECTED, 404),
    summary="The blend in use: model versions, weights, drift state",
)
async def current_blend(
    principal: GlobalAdminKey,
    registry: Registry,
    client: Annotated[AsyncRedis, Depends(get_redis)],
    settings: Annotated[Settings, Depends(get_app_settings)],
) -> Blend:
    current = _current(registry)
    if current is None:
        raise HTTPException(404, "no model yet: run `riskwire train`")
    # The online learner as the workers blend with it: the last committed checkpoint.
    online = checkpoint(settings, client)
    snap, pending = await online.load(), await online.pending_count()
    learner = OnlineLearner.from_state(snap.learner) if snap.learner is not None else None
    weight = learner.online_weight() if learner is not None else 0.0
    boost = learner.blender.boost if learner is not None else 0.0
    policy = registry.load(current).manifest.get("decision_policy")
    if not settings.review_capacity_policy:
        policy = None
    return Blend(
        decision_policy=policy if isinstance(policy, dict) else None,
        batch_version=current,
        batch_weight=1.0 - weight,
        online_version=learner.online_version if learner is not None else None,
        online_weight=weight,
        online_learned=learner.learned if learner is not None else 0,
        labels_pending=pending,
        shadow_version=registry.shadow(),
        drift=Drift(
            detected=boost > DRIFT_BOOST_SHOWN,
            detectors=[learner.detector.name] if learner is not None else [],
            boost=boost,
        ),
    )


@contextmanager
def _registry_errors(registry: ModelRegistry) -> Iterator[None]:
    """No such version → 404; an artefact that fails verification → 409 (never with a path)."""
    try:
        yield
    except ModelNotFoundError as exc:
        raise HTTPException(404, without_paths(str(exc), registry.root)) from exc
    except ModelIntegrityError as exc:
        raise HTTPException(409, f"refused: {without_paths(str(exc), registry.root)}") from exc


async def _change(
    principal: Any, registry: ModelRegistry, audit: AuditLog, action: str, version: str | None
) -> Promotion:
    require_unbound(principal, "models serve every account")
    before = _current(registry)
    with _registry_errors(registry):
        if version is None:
            now = await asyncio.to_thread(registry.rollback)
        else:
            await asyncio.to_thread(registry.promote, version)
            now = version
    await audit.add(entry_fields(principal.actor, action, now, {"current": before}, {"current": now}))
    return Promotion(current=now, previous=before)


@router.post(
    "/{version}/promote",
    response_model=Promotion,
    responses=error_responses(*PROTECTED, 404, 409, 422),
    summary="Make a version current (verified first); workers follow within seconds",
)
async def promote(
    version: Version,
    principal: GlobalAdminKey,
    registry: Registry,
    audit: Annotated[AuditLog, Depends(get_audit_log)],
) -> Promotion:
    return await _change(principal, registry, audit, "models.promote", version)


@router.post(
    "/rollback",
    response_model=Promotion,
    responses=error_responses(*PROTECTED, 404, 409),
    summary="Make the previously current version current again",
)
async def rollback(
    principal: GlobalAdminKey, registry: Registry, audit: Annotated[AuditLog, Depends(get_audit_log)]
) -> Promotion:
    return await _change(principal, registry, audit, "models.rollback", None)


class Shadow(BaseModel):
    shadow: str | None
    previous: str | None


async def _shadow(principal: Any, registry: ModelRegistry, audit: AuditLog, version: str | None) -> Shadow:
    require_unbound(principal, "models serve every account")
    before = registry.shadow()
    with _registry_errors(registry):
        await asyncio.to_thread(registry.set_shadow, version)
    await audit.add(
        entry_fields(principal.actor, "models.shadow", "shadow", {"shadow": before}, {"shadow": version})
    )
    return Shadow(shadow=version, previous=before)


@router.post(
    "/{version}/shadow",
    response_model=Shadow,
    responses=error_responses(*PROTECTED, 404, 409, 422),
    summary="Score a candidate version in shadow: recorded in each decision, never acted on",
)
async def start_shadow(
    version: Version,
    principal: GlobalAdminKey,
    registry: Registry,
    audit: Annotated[AuditLog, Depends(get_audit_log)],
) -> Shadow:
    return await _shadow(principal, registry, audit, version)


@router.delete(
    "/shadow",
    response_model=Shadow,
    responses=error_responses(*PROTECTED),
    summary="Stop shadow scoring",
)
async def stop_shadow(
    principal: GlobalAdminKey, registry: Registry, audit: Annotated[AuditLog, Depends(get_audit_log)]
) -> Shadow:
    return await _shadow(principal, registry, audit, None)
