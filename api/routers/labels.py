"""Feedback (service, admin): labels for chargeback feeds and integrators, published to `labels`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BeforeValidator, Field

from api.auth_first import AuthFirstRoute
from api.bodies import one_or_many
from api.dependencies import (
    ServiceKey,
    get_app_settings,
    get_audit_log,
    get_decision_store,
    get_metrics,
    get_publisher,
)
from api.errors import BODY, PROTECTED, error_responses
from api.metrics import ApiMetrics
from api.publisher import LabelPublisher
from api.schemas import LabelsAccepted
from contracts.identity import event_ref
from contracts.records import Label
from contracts.settings import Settings
from store.audit import AuditLog, entry_fields
from store.decisions import DecisionStore

KNOWN_SOURCES = frozenset({"chargeback", "review", "manual", "issuer", "customer"})
router = APIRouter(prefix="/v1/labels", tags=["labels"], route_class=AuthFirstRoute)


Labels = Annotated[list[Label], BeforeValidator(one_or_many), Field(min_length=1)]


@router.post(
    "",
    status_code=202,
    response_model=LabelsAccepted,
    responses=error_responses(*PROTECTED, *BODY, 404),
    summary="Publish one label or a batch to the labels topic",
    description=(
        "The body is a Label or an array of them (all or nothing). A label names its event by "
        "`event_id` and `account_id`. A key bound to an account labels only that account's "
        "decisions (`account_id` is its own); an event id it has no decision for answers 404."
    ),
)
async def post_labels(
    labels: Annotated[Labels, Body()],
    principal: ServiceKey,
    settings: Annotated[Settings, Depends(get_app_settings)],
    publisher: Annotated[LabelPublisher, Depends(get_publisher)],
    store: Annotated[DecisionStore, Depends(get_decision_store)],
    audit: Annotated[AuditLog, Depends(get_audit_log)],
    metrics: Annotated[ApiMetrics, Depends(get_metrics)],
) -> LabelsAccepted:
    if len(labels) > settings.api_label_batch_max:
        raise HTTPException(422, f"at most {settings.api_label_batch_max} labels per request")
    if principal.account is not None:
        mine = principal.account
        if other := next((lab for lab in labels if lab.account_id not in (None, mine)), None):
            raise HTTPException(404, f"no decision for event_id {other.event_id!r}")
        labels = [lab.model_copy(update={"account_id": mine}) for lab in labels]
        stored = await store.exists([event_ref(mine, lab.event_id) for lab in labels])
        if unknown := next((lab for lab, ok in zip(labels, stored, strict=True) if not ok), None):
            raise HTTPException(404, f"no decision for event_id {unknown.event_id!r}")
    await publisher.publish(labels)
    for lab in labels:
        # A fixed set of label values: sources are free text.
        metrics.labels.labels(lab.source if lab.source in KNOWN_SOURCES else "other").inc()
    # Every label write is audited, a service key's too: labels move features and the online model.
    ids = [lab.event_id for lab in labels]
    await audit.add(
        entry_fields(principal.actor, "labels.publish", f"{len(ids)} labels", None, {"event_ids": ids})
    )
    return LabelsAccepted(published=len(labels))
