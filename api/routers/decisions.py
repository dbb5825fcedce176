"""Decision records (analyst, admin): look one up, or search by entity, level, decision and time.

A key bound to an account sees only that account's decisions: another account's
event id is another event (``api.lookup``), and searches never return them. Card,
customer and merchant filters are looked up by their pseudonyms (``contracts.identity``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import AwareDatetime

from api.auth_first import AuthFirstRoute
from api.cursor import decode_cursor, encode_cursor, page_size, query_digest
from api.dependencies import AnalystKey, get_app_settings, get_decision_store, get_explainer
from api.errors import PROTECTED, error_responses
from api.explanations import Explainer
from api.lookup import AccountQuery, resolve_event
from api.schemas import DecisionPage, Explanation
from api.tenancy import read_scope
from contracts.records import Decision, DecisionKind, RiskLevel
from contracts.settings import Settings
from store.decisions import MAX_SCORE_US, DecisionStore, ScanPage

router = APIRouter(prefix="/v1/decisions", tags=["decisions"], route_class=AuthFirstRoute)

Id = Annotated[str | None, Query(min_length=1, max_length=256)]


def to_us(value: AwareDatetime | None, default: int) -> int:
    if value is None:
        return default
    return min(max(int(value.timestamp() * 1_000_000), 0), MAX_SCORE_US)


def page_json(page: ScanPage, cursor: str | None, explainer: Explainer) -> bytes:
    """The page as JSON, the stored records in the API's shape (features, reasons)."""
    items = explainer.present_json([f.body for f in page.items])
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + orjson.dumps(cursor) + b"}"


@router.get(
    "",
    response_model=DecisionPage,
    responses=error_responses(*PROTECTED, 422),
    summary="Search decisions, newest first, with cursor pagination",
    description=(
        "Filters combine with AND; `since`/`until` bound `scored_at` (inclusive). A page holds at "
        "most `limit` records (capped by the server) and may hold fewer when the search examined "
        "its budget of candidates: continue while `next_cursor` is not null."
    ),
)
async def search_decisions(
    principal: AnalystKey,
    store: Annotated[DecisionStore, Depends(get_decision_store)],
    settings: Annotated[Settings, Depends(get_app_settings)],
    explainer: Annotated[Explainer, Depends(get_explainer)],
    card_id: Id = None,
    customer_id: Id = None,
    merchant_id: Id = None,
    risk_level: RiskLevel | None = None,
    decision: DecisionKind | None = None,
    account_id: Annotated[str | None, Query(min_length=1, max_length=256, description="Admins only")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped by the server)")] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> Response:
    account, visible = read_scope(principal, account_id)
    if not visible:
        empty = ScanPage(store.indexes({})[0], [], None)
        return Response(page_json(empty, None, explainer), media_type="application/json")
    pseudonym = store.names.index
    wanted = {
        "account": account,
        "card": card_id and pseudonym("card", card_id),
        "customer": customer_id and pseudonym("customer", customer_id),
        "merchant": merchant_id and pseudonym("merchant", merchant_id),
        "level": risk_level.value if risk_level else None,
        "decision": decision.value if decision else None,
    }
    candidates = store.indexes(wanted)
    since_us, until_us = to_us(since, 0), to_us(until, MAX_SCORE_US)
    digest = query_digest(sorted((k, v) for k, v in wanted.items() if v), since_us, until_us, order)
    index, after = (candidates, None) if cursor is None else _resume(cursor, digest, candidates)
    page = await store.scan(
        index,
        wanted,
        limit=page_size(limit, settings),
        budget=settings.api_search_scan_max,
        newest_first=order == "newest",
        since_us=since_us,
        until_us=until_us,
        after=after,
    )
    next_cursor = encode_cursor(page.index, page.next, digest) if page.next else None
    return Response(page_json(page, next_cursor, explainer), media_type="application/json")


def _resume(cursor: str, digest: str, candidates: list[str]) -> tuple[list[str], tuple[str, str]]:
    index, after = decode_cursor(cursor, digest, candidates)
    return [index], after


@router.get(
    "/{event_id}",
    response_model=Decision,
    responses=error_responses(*PROTECTED, 404, 409, 422),
    summary="The decision record for a transaction, with its reasons and features",
    description=(
        "The stored record with its feature vector as `features` and, for an allowed payment "
        "(stored unexplained), its reasons computed now from the stored features with the model "
        "version that scored it: the values the worker would have given (`explained: true`)."
    ),
)
async def get_decision(
    event_id: Annotated[str, Path(min_length=1, max_length=256)],
    principal: AnalystKey,
    store: Annotated[DecisionStore, Depends(get_decision_store)],
    explainer: Annotated[Explainer, Depends(get_explainer)],
    account_id: AccountQuery = None,
) -> Response:
    _, body = await resolve_event(store, principal, event_id, account_id)
    return Response(content=explainer.present_json([body])[0], media_type="application/json")


@router.get(
    "/{event_id}/explanation",
    response_model=Explanation,
    responses=error_responses(*PROTECTED, 404, 422),
    summary="Every feature's SHAP contribution to a decision, with the base value and margin",
    description=(
        "Exact TreeSHAP values of the batch model version that scored the decision, computed "
        "from the stored features: contributions + base value = margin (within 1e-4). 404 when "
        "the decision is unknown or its model version is no longer in the registry."
    ),
)
async def get_explanation(
    event_id: Annotated[str, Path(min_length=1, max_length=256)],
    principal: AnalystKey,
    store: Annotated[DecisionStore, Depends(get_decision_store)],
    explainer: Annotated[Explainer, Depends(get_explainer)],
    account_id: AccountQuery = None,
) -> Response:
    _, body = await resolve_event(store, principal, event_id, account_id)
    explanation = explainer.explanation(body)
    if explanation is None:
        version = orjson.loads(body)["model"]["batch_version"]
        raise HTTPException(404, f"model version {version!r} that scored {event_id!r} is no longer available")
    return Response(content=orjson.dumps(explanation), media_type="application/json")
