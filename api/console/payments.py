"""Payments: the filtered list with a score histogram, and one payment with its reasons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.console import calls
from api.console.normals import feature_rows
from api.console.render import histogram, page, reason_bars
from api.console.session import Signed
from store.api_keys import Role

router = APIRouter(prefix="/ui")

PAGE_SIZE = 25
#: The histogram counts at most this many of the newest payments matching the filter.
HISTOGRAM_MAX = 600
#: Pages of the API read to fill one console page when filtering by rule or model.
POST_FILTER_PAGES = 8
Text = Annotated[str, Query(max_length=256)]


def _keep(record: dict[str, Any], rule: str, model: str) -> bool:
    if rule and not any(rule.lower() in r.lower() for r in record.get("rules", [])):
        return False
    return not model or model in (record["model"].get("batch_version"), record["model"].get("online_version"))


@router.get("/payments", response_class=HTMLResponse, include_in_schema=False)
async def payments(
    request: Request,
    s: Signed,
    since: Text = "",
    until: Text = "",
    risk_level: Text = "",
    decision: Text = "",
    card_id: Text = "",
    merchant_id: Text = "",
    rule: Text = "",
    model: Text = "",
    cursor: Text = "",
) -> HTMLResponse:
    await s.need(Role.ANALYST)
    filters = {
        "since": calls.parse_local(since),
        "until": calls.parse_local(until),
        "risk_level": risk_level,
        "decision": decision,
        "card_id": card_id,
        "merchant_id": merchant_id,
    }
    # Rule and model are not index filters: read API pages until one console page is full.
    items: list[dict[str, Any]] = []
    next_cursor: str | None = cursor or None
    for _ in range(POST_FILTER_PAGES if (rule or model) else 1):
        got = await calls.search(request, s.principal, cursor=next_cursor, limit=PAGE_SIZE, **filters)
        items += [r for r in got["items"] if _keep(r, rule, model)]
        next_cursor = got["next_cursor"]
        if next_cursor is None or len(items) >= PAGE_SIZE:
            break
    scores: list[int] = []
    hist_cursor: str | None = None
    while len(scores) < HISTOGRAM_MAX:
        got = await calls.search(request, s.principal, cursor=hist_cursor, limit=200, **filters)
        scores += [r["risk_score"] for r in got["items"] if _keep(r, rule, model)]
        hist_cursor = got["next_cursor"]
        if hist_cursor is None:
            break
    shown = {"since": since, "until": until, "risk_level": risk_level, "decision": decision,
             "card_id": card_id, "merchant_id": merchant_id, "rule": rule, "model": model}  # fmt: skip
    return page(
        request,
        "payments.html",
        s=s,
        items=items,
        next_cursor=next_cursor,
        filters=shown,
        histogram=histogram(scores[:HISTOGRAM_MAX]),
        histogram_capped=len(scores) >= HISTOGRAM_MAX,
    )


@router.get("/payments/{event_id}", response_class=HTMLResponse, include_in_schema=False)
async def payment(
    request: Request,
    s: Signed,
    event_id: Annotated[str, Path(min_length=1, max_length=256)],
    account_id: Annotated[str | None, Query(max_length=256)] = None,
) -> HTMLResponse:
    await s.need(Role.ANALYST)
    record = await calls.decision(request, s.principal, event_id, account_id)  # 404 for another account
    entities, review = await calls.entities_and_review(request, record)
    timeline: list[dict[str, Any]] = []
    if card := entities.get("card_id"):
        timeline = (await calls.search(request, s.principal, card_id=card, limit=10))["items"]
    reasons = record.get("reasons", [])
    audited = s.is_admin and s.principal.account is None  # who may read the audit log
    history = await calls.label_history(request, s.principal, record) if audited else None
    return page(
        request,
        "payment.html",
        s=s,
        r=record,
        entities=entities,
        review=review,
        bars=reason_bars(reasons),
        features=feature_rows(record.get("features", {}), [x["feature"] for x in reasons]),
        timeline=timeline,
        history=history,
    )
