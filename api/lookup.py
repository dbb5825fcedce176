"""Which event a request means: events are (account, event id), so the same id in two
accounts is two events (``contracts.identity``).

A key bound to an account always means its own account's event: another account's id
answers 404 exactly like an unknown one, and nothing tells the two apart. A key that sees
every account names the account with ``?account_id=`` (empty for an event without one);
without it, the event id must be stored for a single account, or the answer is 409 and
says to pass ``account_id``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query

from api.tenancy import read_scope
from contracts.identity import event_ref
from store.api_keys import Principal
from store.decisions import DecisionStore

__all__ = ["AccountQuery", "resolve_event"]

AccountQuery = Annotated[
    str | None,
    Query(
        max_length=256,
        description=(
            "For keys that see every account: the event's account (empty: an event without "
            "one). Needed only when the event id is stored for several accounts."
        ),
    ),
]


async def resolve_event(
    store: DecisionStore, principal: Principal, event_id: str, account_id: str | None
) -> tuple[str, bytes]:
    """The event's reference and stored record, or 404 (409 when ambiguous)."""
    missing = HTTPException(404, f"no decision for event_id {event_id!r}")
    if principal.account is not None or account_id is not None:
        account, visible = read_scope(principal, account_id)
        if not visible:
            raise missing
        ref = event_ref(account or None, event_id)
        body = await store.get(ref)
        if body is None:
            raise missing
        return ref, body
    found = await store.find(event_id)
    if not found:
        raise missing
    if len(found) > 1:
        raise HTTPException(
            409, f"event_id {event_id!r} is stored for {len(found)} accounts: pass ?account_id= to choose"
        )
    return found[0]
