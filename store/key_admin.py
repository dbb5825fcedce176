"""API keys managed from outside a server (the command line, the demo, the bench): open
the key store of the settings' Redis for one piece of work, and create a key.

The key store's own migration runs first, so a key made here is verified the same way
the API verifies it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from contracts.settings import Settings
from store.api_keys import KeyInfo, KeyStore, Role
from store.audit import CLI_ACTOR, AuditLog
from store.connect import async_client
from store.key_hash import key_pepper

__all__ = ["create_key", "with_key_store"]

T = TypeVar("T")


def with_key_store(settings: Settings, work: Callable[[KeyStore], Awaitable[T]]) -> T:
    """Run ``work`` on the settings' key store (its own event loop and client)."""

    async def run() -> T:
        client = async_client(settings)
        try:
            audit = AuditLog(client, max_entries=settings.api_audit_max_entries)
            store = KeyStore(
                client,
                audit,
                rate_per_s=settings.api_rate_per_s,
                burst=settings.api_rate_burst,
                pepper=key_pepper(settings),
            )
            await store.migrate()
            return await work(store)
        finally:
            await client.aclose()

    return asyncio.run(run())


def create_key(
    settings: Settings, role: str, account: str | None = None, name: str = "unnamed"
) -> tuple[KeyInfo, str]:
    """Create a key in the settings' Redis (audited as ``cli``): its record and its secret."""
    return with_key_store(
        settings, lambda s: s.create(role=Role(role), account=account or None, name=name, by=CLI_ACTOR)
    )
