"""Synchronous scoring (service, admin): the worker's pipeline for one event or a small batch.

The decision is made and stored exactly as the worker would (same features in
Redis, model, explanation, write-once record), so a later ``GET`` or a
redelivery through Kafka returns the same record. It is not published to
``scores``: the caller has the answer.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Response
from pydantic import BeforeValidator, Field

from api.auth_first import AuthFirstRoute
from api.bodies import one_or_many
from api.dependencies import ServiceKey, get_app_settings, get_explainer, get_scoring_pipeline
from api.errors import BODY, PROTECTED, error_responses
from api.explanations import Explainer
from contracts.identity import event_ref
from contracts.records import Decision, Transaction
from contracts.settings import Settings
from pipeline.scoring import ScoringPipeline

router = APIRouter(prefix="/v1/score", tags=["scoring"], route_class=AuthFirstRoute)


Transactions = Annotated[list[Transaction], BeforeValidator(one_or_many), Field(min_length=1)]


@router.post(
    "",
    response_model=list[Decision],
    responses=error_responses(*PROTECTED, *BODY, 409),
    summary="Score one transaction or a small batch, as the worker would",
    description=(
        "The body is a Transaction or an array of them; the answer is always an array of "
        "decision records in the same order (duplicates of an event id get the same record). "
        "A key bound to an account may score only that account's transactions; one without "
        "`account_id` is scored for the key's account."
    ),
)
async def score(
    transactions: Annotated[Transactions, Body()],
    principal: ServiceKey,
    settings: Annotated[Settings, Depends(get_app_settings)],
    pipeline: Annotated[ScoringPipeline, Depends(get_scoring_pipeline)],
    explainer: Annotated[Explainer, Depends(get_explainer)],
) -> Response:
    if len(transactions) > settings.api_score_batch_max:
        raise HTTPException(422, f"at most {settings.api_score_batch_max} transactions per request")
    limit_ms = int((time.time() + settings.max_future_skew_s) * 1000)
    owned = []
    for tx in transactions:
        if tx.occurred_ms > limit_ms:
            raise HTTPException(422, f"{tx.event_id}: occurred_at is too far in the future")
        if principal.account is not None:
            if tx.account_id is None:
                tx = tx.model_copy(update={"account_id": principal.account})
            elif tx.account_id != principal.account:
                raise HTTPException(403, f"{tx.event_id}: this key cannot score account {tx.account_id!r}")
        owned.append(tx)
    # The worker's order: the live state refreshed once (promotions, shadow, rules, online),
    # then the batch scored. The report's PSI input and shadow tally are the worker's to watch.
    await pipeline.live.refresh()
    scored, _report = await pipeline.score(owned)
    # Another account's event id is another event: no conflict, nothing learned about it.
    stored = {s.ref: s.body for s in scored}
    # The stored records in the API's shape (as GET /v1/decisions/{id} serves them), in order.
    bodies = [stored[event_ref(tx.account_id, tx.event_id)] for tx in owned]
    body = b"[" + b",".join(explainer.present_json(bodies)) + b"]"
    return Response(content=body, media_type="application/json")
