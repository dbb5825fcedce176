"""Which event a request means (api/lookup.py), against the real decision store in Redis."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import HTTPException

from api.lookup import resolve_event
from contracts.identity import load_names
from store.api_keys import Principal, Role
from store.connect import async_client
from store.decisions import DecisionStore
from tests.api.apihelp import decision_body, ref, tx

pytestmark = pytest.mark.services

ACME = Principal("k-acme", Role.ANALYST, "acme")
ALL = Principal("k-all", Role.ANALYST, None)
STORED = [("e1", "acme"), ("e1", "globex"), ("e2", "globex"), ("e3", None), ("e4", "acme")]


@pytest.fixture()
def lookup(api_settings):
    """``lookup(principal, event_id, account_id)``: the reference and body, or (status, detail)."""
    bodies = {(e, a): decision_body(f"{e}-{a}") for e, a in STORED}

    async def run(principal: Principal, event_id: str, account_id: str | None) -> object:
        client = async_client(api_settings)
        try:
            store = DecisionStore(client, ttl_s=3600, names=load_names(api_settings))
            if await store.exists([ref("e1", "acme")]) != [True]:
                await store.put_new([(tx(e, account=a), body) for (e, a), body in bodies.items()])
            try:
                got_ref, body = await resolve_event(store, principal, event_id, account_id)
            except HTTPException as err:
                return err.status_code, err.detail
            return got_ref, body
        finally:
            await client.aclose()

    def call(principal: Principal, event_id: str, account_id: str | None = None) -> object:
        return asyncio.run(run(principal, event_id, account_id))

    call.bodies = bodies  # type: ignore[attr-defined]
    return call


def test_a_bound_key_sees_only_its_own_accounts_events(lookup) -> None:
    body = lookup.bodies
    assert lookup(ACME, "e1") == (ref("e1", "acme"), body[("e1", "acme")])
    assert lookup(ACME, "e1", "acme") == (ref("e1", "acme"), body[("e1", "acme")])
    missing = (404, "no decision for event_id 'e2'")
    assert lookup(ACME, "e2") == missing  # another account's only
    assert lookup(ACME, "e2", "globex") == missing  # naming the other account changes nothing
    assert lookup(ACME, "e1", "globex") == (404, "no decision for event_id 'e1'")
    assert lookup(ACME, "e3") == (404, "no decision for event_id 'e3'")  # an event without account
    assert lookup(ACME, "e4", "") == (404, "no decision for event_id 'e4'")


def test_a_key_for_every_account_names_the_account_when_the_id_is_ambiguous(lookup) -> None:
    body = lookup.bodies
    assert lookup(ALL, "e2") == (ref("e2", "globex"), body[("e2", "globex")])
    assert lookup(ALL, "e3") == (ref("e3", None), body[("e3", None)])
    assert lookup(ALL, "e3", "") == (ref("e3", None), body[("e3", None)])
    assert lookup(ALL, "e1", "globex") == (ref("e1", "globex"), body[("e1", "globex")])
    assert lookup(ALL, "e1") == (
        409,
        "event_id 'e1' is stored for 2 accounts: pass ?account_id= to choose",
    )
    assert lookup(ALL, "e9") == (404, "no decision for event_id 'e9'")
    assert lookup(ALL, "e2", "acme") == (404, "no decision for event_id 'e2'")
