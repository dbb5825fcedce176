"""The review queue: open reviews oldest first, assign to me, close as fraud or legit.

Closing goes through the API's own close, which publishes the label to ``labels``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.render import page
from api.console.session import Signed, form_fields
from api.dependencies import (
    get_app_settings,
    get_decision_store,
    get_explainer,
    get_metrics,
    get_publisher,
    get_review_store,
)
from api.routers import reviews as api_reviews
from api.schemas import CloseBody
from contracts.records import LabelKind
from store.api_keys import Role

router = APIRouter(prefix="/ui")
EventId = Annotated[str, Path(min_length=1, max_length=256)]


@router.get("/reviews", response_class=HTMLResponse, include_in_schema=False)
async def queue(
    request: Request,
    s: Signed,
    status: Literal["open", "assigned", "closed"] = "open",
    cursor: Annotated[str, Query(max_length=2048)] = "",
    done: Annotated[str, Query(max_length=300)] = "",
) -> HTMLResponse:
    await s.need(Role.ANALYST)
    response = await api_reviews.list_reviews(
        s.principal,
        get_decision_store(request),
        get_app_settings(request),
        get_explainer(request),
        get_review_store(request),
        status=status,
        order="newest" if status == "closed" else "oldest",  # the queue: oldest first
        limit=50,
        cursor=cursor or None,
    )
    got: dict[str, Any] = orjson.loads(bytes(response.body))
    return page(
        request,
        "reviews.html",
        s=s,
        items=got["items"],
        next_cursor=got["next_cursor"],
        status=status,
        done=done,
    )


def _back(form: dict[str, str], message: str) -> RedirectResponse:
    target = form.get("back", "")
    if not target.startswith("/ui/"):  # only back into the console: no open redirect
        target = "/ui/reviews"
    glue = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{glue}done={quote(message)}", status_code=303)


@router.post("/reviews/{event_id}/assign", include_in_schema=False)
async def assign(request: Request, s: Signed, event_id: EventId) -> RedirectResponse:
    form = await form_fields(request)
    s.check_csrf(request, form)
    await s.need(Role.ANALYST)
    await api_reviews.assign_review(
        event_id, s.principal, get_review_store(request), get_decision_store(request), None
    )
    return _back(form, f"{event_id} assigned to you")


@router.post("/reviews/{event_id}/close", include_in_schema=False)
async def close(request: Request, s: Signed, event_id: EventId) -> RedirectResponse:
    form = await form_fields(request)
    s.check_csrf(request, form)
    await s.need(Role.ANALYST)
    if form.get("outcome") not in ("fraud", "legit"):
        raise HTTPException(422, "outcome must be fraud or legit")
    outcome = LabelKind(form["outcome"])
    body = CloseBody(outcome=outcome, note=form.get("note") or None)
    await api_reviews.close_review(
        event_id,
        body,
        s.principal,
        get_review_store(request),
        get_publisher(request),
        get_metrics(request),
        get_decision_store(request),
    )
    return _back(form, f"{event_id} closed as {outcome.value}; label published")
