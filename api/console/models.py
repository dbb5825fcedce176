"""Models: versions, current and shadow, promote and roll back (each confirmed), the
model card (data range, metrics, calibration), drift and shadow agreement."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console import calls
from api.console.model_views import agreement, online_points, polyline, psi_rows
from api.console.render import page
from api.console.session import Signed, form_fields
from api.dependencies import get_app_settings, get_audit_log, get_redis
from api.routers import models as api_models
from models.loading import ModelRegistry
from store.api_keys import Role

router = APIRouter(prefix="/ui")
Version = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
#: The newest stored decisions the drift and agreement figures are computed on.
SAMPLE = 1000
#: Points of the online model's line over the whole stored history.
POINTS = 24


async def _sample(request: Request, s: Signed) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(out) < SAMPLE:
        got = await calls.search(request, s.principal, cursor=cursor, limit=200)
        out += got["items"]
        if (cursor := got["next_cursor"]) is None:
            break
    return out[:SAMPLE]


async def _over_time(request: Request, s: Signed) -> list[dict[str, Any]]:
    """One decision at each of ``POINTS`` even steps from the oldest stored one to the newest:
    the online model's version and weight as it was then."""
    newest = (await calls.search(request, s.principal, limit=1))["items"]
    oldest = (await calls.search(request, s.principal, limit=1, order="oldest"))["items"]
    if not newest or not oldest:
        return []
    start, end = (datetime.fromisoformat(x[0]["scored_at"]) for x in (oldest, newest))
    picked: dict[str, dict[str, Any]] = {}
    for k in range(POINTS):
        until = start + (end - start) * (k + 1) / POINTS
        for r in (await calls.search(request, s.principal, limit=1, until=until))["items"]:
            picked[r["event_id"]] = r
    return list(picked.values())


@router.get("/models", response_class=HTMLResponse, include_in_schema=False)
async def models(request: Request, s: Signed, done: str = "") -> HTMLResponse:
    await s.need(Role.ADMIN)
    settings = get_app_settings(request)
    registry = ModelRegistry(settings.model_dir)
    listing = await api_models.list_models(s.principal, registry)
    try:
        blend = await api_models.current_blend(s.principal, registry, get_redis(request), settings)
    except HTTPException:
        blend = None  # no model yet: the page says so
    sample = await _sample(request, s)
    current = next((m for m in listing.items if m.current), None)
    reference = current.manifest.get("reference", {}) if current else {}
    points = online_points(await _over_time(request, s))
    return page(
        request,
        "models.html",
        s=s,
        done=done,
        listing=listing,
        blend=blend,
        shadow=registry.shadow(),
        psi=psi_rows(sample, reference)[:15],
        sampled=len(sample),
        agreement=agreement(sample),
        points=points,
        learned_line=polyline([p["learned"] for p in points]),
        weight_line=polyline([p["weight"] for p in points]),
    )


async def _act(request: Request, s: Signed) -> ModelRegistry:
    form = await form_fields(request)
    s.check_csrf(request, form)
    await s.need(Role.ADMIN)
    return ModelRegistry(get_app_settings(request).model_dir)


def _done(message: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/models?done={quote(message)}", status_code=303)


@router.post("/models/rollback", include_in_schema=False)
async def rollback(request: Request, s: Signed) -> RedirectResponse:
    registry = await _act(request, s)
    moved = await api_models.rollback(s.principal, registry, get_audit_log(request))
    return _done(f"rolled back: {moved.current} is current (was {moved.previous})")


@router.post("/models/shadow/stop", include_in_schema=False)
async def stop_shadow(request: Request, s: Signed) -> RedirectResponse:
    registry = await _act(request, s)
    await api_models.stop_shadow(s.principal, registry, get_audit_log(request))
    return _done("shadow scoring stopped")


@router.post("/models/{version}/promote", include_in_schema=False)
async def promote(request: Request, s: Signed, version: Version) -> RedirectResponse:
    registry = await _act(request, s)
    moved = await api_models.promote(version, s.principal, registry, get_audit_log(request))
    return _done(f"promoted: {moved.current} is current (was {moved.previous})")


@router.post("/models/{version}/shadow", include_in_schema=False)
async def shadow(request: Request, s: Signed, version: Version) -> RedirectResponse:
    registry = await _act(request, s)
    await api_models.start_shadow(version, s.principal, registry, get_audit_log(request))
    return _done(f"{version} now scores in shadow")
