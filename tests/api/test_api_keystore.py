"""The API key store (store/api_keys.py) on its own, against the session's real Redis (db flushed
per test): what a key keeps, in which order keys list, revocation, the last-admin rule and
the rate limit's wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from store.api_keys import KeyStore, LastAdminKey, Role
from store.audit import Actor, AuditLog

pytestmark = pytest.mark.services

ANA = Actor(who="ana", role="admin")
BO = Actor(who="bo", role="admin")


def run(services: Any, body: Callable[[KeyStore, AuditLog], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(services.redis_url, **kw)
        try:
            audit = AuditLog(client, max_entries=1000)
            await body(KeyStore(client, audit, rate_per_s=1.0, burst=1, pepper=b"p" * 32), audit)
        finally:
            await client.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("decode", [False, True])
def test_a_key_keeps_who_made_it_and_who_revoked_it(services, redis_client, decode) -> None:
    async def body(store: KeyStore, audit: AuditLog) -> None:
        info, secret = await store.create(role=Role.ANALYST, account="acme", name="night shift", by=ANA)
        got = await store.get(info.id)
        assert got == info
        assert (got.id, got.name, got.created_by, got.account) == (info.id, "night shift", "ana", "acme")
        assert got.created_at and got.revoked_at is None and got.revoked_by is None
        assert (await store.check(secret)).principal is not None
        after, done = await store.revoke(info.id, by=BO)
        assert done and after is not None and after.revoked_by == "bo"
        assert await store.get(info.id) == after
        entries, _ = await audit.page(10, None)
        assert [e.action for e in entries] == ["key.revoke", "key.create"]
        assert entries[0].at == after.revoked_at and entries[0].who == "bo"
        again, done = await store.revoke(info.id, by=ANA)
        assert not done and again == after  # revoked once, by bo
        assert await store.revoke("0123456789abcdef", by=ANA) == (None, False)
        assert await store.get("0123456789abcdef") is None
        assert (await store.check(secret)).principal is None

    run(services, body, decode_responses=decode)


def test_keys_list_oldest_first_and_by_account(services, redis_client) -> None:
    async def body(store: KeyStore, audit: AuditLog) -> None:
        made = []
        for i in range(6):
            info, _ = await store.create(
                role=Role.SERVICE, account="acme" if i % 2 else None, name=f"k{i}", by=ANA
            )
            made.append(info)
            await asyncio.sleep(0.002)  # a millisecond apart at least
        assert await store.list() == made
        assert [k.name for k in await store.list("acme")] == ["k1", "k3", "k5"]

    run(services, body)


def test_the_last_unbound_admin_key_is_kept_only_when_asked(services, redis_client) -> None:
    async def body(store: KeyStore, audit: AuditLog) -> None:
        first, _ = await store.create(role=Role.ADMIN, account=None, name="a", by=ANA)
        second, _ = await store.create(role=Role.ADMIN, account=None, name="b", by=ANA)
        bound, _ = await store.create(role=Role.ADMIN, account="acme", name="c", by=ANA)
        analyst, _ = await store.create(role=Role.ANALYST, account=None, name="d", by=ANA)
        assert (await store.revoke(analyst.id, by=ANA, keep_an_admin=True))[1]
        assert (await store.revoke(bound.id, by=ANA, keep_an_admin=True))[1]
        assert (await store.revoke(first.id, by=ANA, keep_an_admin=True))[1]  # the second remains
        with pytest.raises(LastAdminKey, match="last unbound admin key"):
            await store.revoke(second.id, by=ANA, keep_an_admin=True)
        assert (await store.get(second.id)).revoked_at is None  # type: ignore[union-attr]
        assert (await store.revoke(second.id, by=ANA))[1]  # the command line may

    run(services, body)


def test_over_the_limit_the_wait_is_in_whole_microseconds(services, redis_client) -> None:
    async def body(store: KeyStore, audit: AuditLog) -> None:
        _, secret = await store.create(role=Role.ANALYST, account=None, name="x", by=ANA)
        assert (await store.check(secret)).retry_after_s == 0.0
        wait = (await store.check(secret)).retry_after_s
        assert 0 < wait <= 1.0
        assert wait * 1e6 == pytest.approx(round(wait * 1e6), abs=1e-6)
        assert wait == round(wait, 6)

    run(services, body)
