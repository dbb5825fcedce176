"""Looking up decision records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response

from api.dependencies import get_decision_store
from api.schemas import ErrorBody
from contracts.records import Decision
from pipeline.decision_store import DecisionStore

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.get(
    "/{event_id}",
    response_model=Decision,
    responses={404: {"model": ErrorBody, "description": "No decision for this event id"}},
    summary="The decision record for a transaction, with its reasons",
)
async def get_decision(
    event_id: Annotated[str, Path(min_length=1, max_length=256)],
    store: Annotated[DecisionStore, Depends(get_decision_store)],
) -> Response:
    body = await store.get(event_id)
    if body is None:
        raise HTTPException(status_code=404, detail=f"no decision for event_id {event_id!r}")
    # The stored bytes are the published record: serve them as they are.
    return Response(content=body, media_type="application/json")
