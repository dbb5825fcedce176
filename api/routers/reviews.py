"""The review queue (analyst, admin): list by status, assign, close with an outcome.

Closing publishes exactly one label (source ``review``) to the labels topic: the
close is an atomic state change, and if Kafka does not acknowledge the label the
review is reopened and the answer is 503, so a retry publishes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Response

from api.auth_first import AuthFirstRoute
from api.cursor import decode_cursor, encode_cursor, page_size, query_digest
from api.dependencies import (
    AnalystKey,
    get_app_settings,
    get_decision_store,
    get_explainer,
    get_metrics,
    get_publisher,
    get_review_store,
)
from api.errors import BODY, PROTECTED, error_responses
from api.explanations import Explainer
from api.lookup import AccountQuery, resolve_event
from api.metrics import ApiMetrics
from api.publisher import LabelPublisher
from api.schemas import AssignBody, CloseBody, Review, ReviewPage, ReviewStatus
from api.tenancy import read_scope
from contracts.identity import split_ref
from contracts.records import Label
from contracts.settings import Settings
from store.api_keys import Principal
from store.decisions import DecisionStore, Found
from store.reviews import ReviewStore, Transition

router = APIRouter(prefix="/v1/reviews", tags=["reviews"], route_class=AuthFirstRoute)

EventId = Annotated[str, Path(min_length=1, max_length=256)]


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat()


def _review(ref: str, state: dict[str, str | None], scored_us: int) -> dict[str, object]:
    account, event_id = split_ref(ref)
    return {
        "event_id": event_id,
        "account_id": account,
        "status": state.get("status") or "open",
        "queued_at": _iso(scored_us),
        **{
            k: state.get(k) or None
            for k in ("assignee", "assigned_at", "assigned_by", "outcome", "note", "closed_at", "closed_by")
        },
    }


def _item(found: Found, decision: bytes, reviews: ReviewStore) -> dict[str, object]:
    state: dict[str, str | None] = reviews.open_note(found.ref, dict(found.review))
    return {**_review(found.ref, state, found.scored_us), "decision": orjson.Fragment(decision)}


@router.get(
    "",
    response_model=ReviewPage,
    responses=error_responses(*PROTECTED, 422),
    summary="Reviews by status, with their decisions, newest first",
)
async def list_reviews(
    principal: AnalystKey,
    store: Annotated[DecisionStore, Depends(get_decision_store)],
    settings: Annotated[Settings, Depends(get_app_settings)],
    explainer: Annotated[Explainer, Depends(get_explainer)],
    reviews: Annotated[ReviewStore, Depends(get_review_store)],
    status: ReviewStatus = "open",
    account_id: Annotated[str | None, Query(min_length=1, max_length=256, description="Admins only")] = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped by the server)")] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> Response:
    account, visible = read_scope(principal, account_id)
    if not visible:
        return Response(b'{"items":[],"next_cursor":null}', media_type="application/json")
    queue = store.queue(status, account)
    digest = query_digest("reviews", status, account, order)
    after = None
    if cursor is not None:
        _, after = decode_cursor(cursor, digest, [queue])
    page = await store.scan(
        [queue],
        {"account": account},
        limit=page_size(limit, settings),
        budget=settings.api_search_scan_max,
        newest_first=order == "newest",
        after=after,
        with_review=True,
    )
    next_cursor = encode_cursor(page.index, page.next, digest) if page.next else None
    decisions = explainer.present_json([f.body for f in page.items])  # features in the API's shape
    items = [_item(f, d, reviews) for f, d in zip(page.items, decisions, strict=True)]
    body = orjson.dumps({"items": items, "next_cursor": next_cursor})
    return Response(body, media_type="application/json")


def _answer(ref: str, result: Transition) -> Review:
    event_id = split_ref(ref)[1]
    if result.outcome in ("missing", "not_review"):
        raise HTTPException(404, f"no review for event_id {event_id!r}")
    if result.outcome == "closed":
        raise HTTPException(409, f"the review of {event_id!r} is already closed")
    assert result.after is not None
    return Review.model_validate(_review(ref, result.after, result.scored_us))


@router.post(
    "/{event_id}/assign",
    response_model=Review,
    responses=error_responses(*PROTECTED, *BODY, 404, 409),
    summary="Assign a review (to the caller unless `assignee` is given)",
)
async def assign_review(
    event_id: EventId,
    principal: AnalystKey,
    reviews: Annotated[ReviewStore, Depends(get_review_store)],
    store: Annotated[DecisionStore, Depends(get_decision_store)],
    body: Annotated[AssignBody | None, Body()] = None,
    account_id: AccountQuery = None,
) -> Review:
    ref = await _review_ref(store, principal, event_id, account_id)
    assignee = (body.assignee if body else None) or principal.key_id
    result = await reviews.assign(ref, scope=principal.account, assignee=assignee, actor=principal.actor)
    return _answer(ref, result)


async def _review_ref(
    store: DecisionStore, principal: Principal, event_id: str, account_id: str | None
) -> str:
    try:
        return (await resolve_event(store, principal, event_id, account_id))[0]
    except HTTPException as exc:
        if exc.status_code == 404:
            raise HTTPException(404, f"no review for event_id {event_id!r}") from None
        raise


@router.post(
    "/{event_id}/close",
    response_model=Review,
    responses=error_responses(*PROTECTED, *BODY, 404, 409),
    summary="Close a review with an outcome; publishes one label (source `review`)",
)
async def close_review(
    event_id: EventId,
    body: CloseBody,
    principal: AnalystKey,
    reviews: Annotated[ReviewStore, Depends(get_review_store)],
    publisher: Annotated[LabelPublisher, Depends(get_publisher)],
    metrics: Annotated[ApiMetrics, Depends(get_metrics)],
    store: Annotated[DecisionStore, Depends(get_decision_store)],
    account_id: AccountQuery = None,
) -> Review:
    ref = await _review_ref(store, principal, event_id, account_id)
    result = await reviews.close(
        ref, scope=principal.account, outcome=body.outcome.value, note=body.note, actor=principal.actor
    )
    review = _answer(ref, result)
    label = Label(
        event_id=event_id,
        account_id=split_ref(ref)[0],
        label=body.outcome,
        reported_at=review.closed_at or datetime.now(UTC),
        source="review",
    )
    try:
        await publisher.publish([label])
    except Exception:
        await reviews.reopen(ref, result, scope=principal.account, actor=principal.actor)
        raise
    metrics.labels.labels("review").inc()
    return review
