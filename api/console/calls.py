"""The JSON API's route functions, called with a console session's principal.

One access rule: the pages get exactly what the same key would get from ``/v1``
(another account's payment is a 404 here too). Responses come back as Python data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request, Response

from api.dependencies import get_app_settings, get_audit_log, get_decision_store, get_explainer
from api.routers import audit, decisions
from contracts.identity import event_ref
from contracts.records import DecisionKind, RiskLevel


def _json(response: Response) -> Any:
    return orjson.loads(bytes(response.body))


async def search(
    request: Request, principal: Any, *, cursor: str | None = None, limit: int | None = None, **filters: Any
) -> dict[str, Any]:
    """``GET /v1/decisions`` with these filters: {items, next_cursor}."""
    level, kind = filters.pop("risk_level", None), filters.pop("decision", None)
    response = await decisions.search_decisions(
        principal,
        get_decision_store(request),
        get_app_settings(request),
        get_explainer(request),
        risk_level=RiskLevel(level) if level else None,
        decision=DecisionKind(kind) if kind else None,
        limit=limit,
        cursor=cursor,
        **{k: v for k, v in filters.items() if v},
    )
    page: dict[str, Any] = _json(response)
    return page


async def decision(
    request: Request, principal: Any, event_id: str, account_id: str | None = None
) -> dict[str, Any]:
    """``GET /v1/decisions/{event_id}`` (404 for another account's payment; 409 for a key
    that sees every account when the id is stored for several and ``account_id`` is not given)."""
    response = await decisions.get_decision(
        event_id, principal, get_decision_store(request), get_explainer(request), account_id
    )
    record: dict[str, Any] = _json(response)
    return record


async def entities_and_review(
    request: Request, record: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """The card, customer and merchant of a payment (as the producer sent them, from its
    record) and its review state.

    Only called with a record that :func:`decision` returned to this principal.
    """
    entities = {k: str(record[k]) for k in ("card_id", "customer_id", "merchant_id") if record.get(k)}
    ref = event_ref(record.get("account_id"), str(record["event_id"]))
    return entities, await get_decision_store(request).review(ref)


#: Audit entries read when looking for a payment's label history (newest first).
AUDIT_SCAN = 2000


async def label_history(request: Request, principal: Any, record: dict[str, Any]) -> list[Any]:
    """``GET /v1/audit`` entries about this payment: its review changes (their target is the
    payment's reference, account included) and labels sent through the API, newest first.
    Only for keys that may read the audit log."""
    event_id = str(record["event_id"])
    ref = event_ref(record.get("account_id"), event_id)
    found: list[Any] = []
    cursor: str | None = None
    for _ in range(AUDIT_SCAN // 100):
        page = await audit.audit_log(
            principal, get_audit_log(request), get_app_settings(request), limit=100, cursor=cursor
        )
        for e in page.items:
            ids = (e.after or {}).get("event_ids", []) if e.action == "labels.publish" else []
            if (e.action.startswith("review.") and e.target == ref) or event_id in ids:
                found.append(e)
        if (cursor := page.next_cursor) is None:
            break
    return found


def parse_local(value: str | None) -> datetime | None:
    """A ``datetime-local`` input (taken as UTC) or an RFC 3339 time; None when empty."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
