"""Helpers for the API tests (plain functions; fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson
from confluent_kafka.admin import AdminClient, NewTopic

from contracts.identity import event_ref, load_names
from contracts.records import Transaction
from contracts.settings import Settings
from store.connect import async_client
from store.decisions import DecisionStore
from store.key_admin import create_key

Headers = dict[str, str]


def bearer(secret: str) -> Headers:
    return {"Authorization": f"Bearer {secret}"}


def new_key(settings: Settings, role: str, account: str | None = None, name: str = "test") -> tuple[str, str]:
    """(key id, secret) of a new key, made by the real key store (as `riskwire keys create` does)."""
    info, secret = create_key(settings, role, account, name)
    return info.id, secret


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)]
    ).values():
        future.result(30)


def decision_body(
    event_id: str,
    *,
    scored_at: datetime | None = None,
    level: str = "highest",
    decision: str = "block",
    score: int = 80,
    card: str | None = None,
) -> bytes:
    """A decision record as the pipeline writes it (orjson, contract shape)."""
    at = scored_at or datetime.now(UTC)
    return orjson.dumps(
        {
            "event_id": event_id,
            **({"card_id": card} if card else {}),
            "occurred_at": at,
            "scored_at": at,
            "risk_score": score,
            "risk_level": level,
            "decision": decision,
            "probability": score / 100,
            "model": {
                "batch_version": "v1",
                "batch_weight": 1.0,
                "online_version": None,
                "online_weight": 0.0,
            },
            "reasons": [],
            "rules": [],
            "features": {},
            "latency_ms": 1.5,
        }
    )


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def tx(
    event_id: str,
    *,
    account: str | None = None,
    card: str = "c1",
    customer: str | None = None,
    merchant: str = "m1",
) -> Transaction:
    return Transaction(
        event_id=event_id,
        occurred_at=T0,
        amount=10.0,
        currency="EUR",
        card_id=card,
        merchant_id=merchant,
        account_id=account,
        customer_id=customer,
    )


def put(
    settings: Settings, records: Sequence[tuple[Transaction, bytes]], ttl_s: int | None = None
) -> list[bytes]:
    async def run() -> list[bytes]:
        client = async_client(settings)
        try:
            if settings.database_url is not None:  # the API's store is PostgreSQL's (issue 18)
                from store.database import LazyPool
                from store.pg_decisions import PgDecisionStore

                pg = PgDecisionStore(
                    LazyPool(settings.database_url.get_secret_value()), names=load_names(settings)
                )
                try:
                    return await pg.put_new(records)
                finally:
                    await pg.aclose()
            store = DecisionStore(client, ttl_s=ttl_s or settings.decision_ttl_s, names=load_names(settings))
            return await store.put_new(records)
        finally:
            await client.aclose()

    return asyncio.run(run())


def ref(event_id: str, account: str | None = None) -> str:
    """The event's reference in every store key (``contracts.identity.event_ref``)."""
    return event_ref(account, event_id)


def pseudonym(settings: Settings, kind: str, value: str) -> str:
    """What indexes and metadata hold for an entity value (``EntityNames.index``)."""
    return load_names(settings).index(kind, value)
