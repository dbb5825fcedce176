"""Tenant isolation (issue 14, items 1, 2 and 5): events are (account, event id), feature
state is per account unless shared, and identifiers are pseudonymised in Redis."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import redis
from pydantic import ValidationError

from contracts.identity import ENTITY_KINDS, KEY_FILE, EntityNames, event_ref, load_names, split_ref
from contracts.records import Label, Transaction
from contracts.settings import Settings
from features.aggregates import RAW_INDEX
from features.offline import OfflineFeatureEngine
from store.feature_state import SyncOnlineFeatureStore

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
SUM_24H = RAW_INDEX["card_u_24h"]
COUNT_24H = RAW_INDEX["card_n_24h"]


def tx(event_id: str, account: str | None, minute: int, amount: float = 10.0, **kw: str) -> Transaction:
    fields = {"card_id": "4111", "merchant_id": "m1", **kw}
    return Transaction(
        event_id=event_id, occurred_at=T0 + timedelta(minutes=minute), amount=amount, currency="EUR",
        account_id=account, **fields,
    )  # fmt: skip


def test_references_are_unambiguous() -> None:
    refs = {event_ref(a, e) for a, e in [(None, "x:y"), ("x", "y"), ("x:y", ""), ("", "a"), ("%3A", "b")]}
    assert len(refs) == 5
    for account, event_id in [("acme", "e:1"), (None, "e1"), ("a%b:c", "d")]:
        assert split_ref(event_ref(account, event_id)) == (account, event_id)


def test_features_are_per_account_unless_the_kind_is_shared() -> None:
    a = tx("a1", "acme", 0, 900.0)
    b = tx("b1", "globex", 5, 5.0)
    apart = OfflineFeatureEngine(grace_ms=0)
    apart.record([a])
    row = apart.record([b])[0]
    assert row[COUNT_24H] == 0 and row[SUM_24H] == 0  # globex sees nothing of acme's payment
    shared = OfflineFeatureEngine(grace_ms=0, names=EntityNames(shared=frozenset({"card"})))
    shared.record([a])
    row = shared.record([b])[0]
    assert row[COUNT_24H] == 1 and row[SUM_24H] == 900 * 10_000  # the card's state is the network's
    # The merchant stays per account even when cards are shared.
    assert row[RAW_INDEX["merchant_n_24h"]] == 0


def test_the_same_event_id_in_two_accounts_is_two_events() -> None:
    engine = OfflineFeatureEngine(grace_ms=0, names=EntityNames(shared=frozenset(ENTITY_KINDS)))
    first = engine.record([tx("e1", "acme", 0, 50.0)])[0]
    other = engine.record([tx("e1", "globex", 1, 70.0)])[0]
    again = engine.record([tx("e1", "acme", 2, 999.0)])[0]  # acme's redelivery: its first result
    assert other[COUNT_24H] == 1 and other[SUM_24H] == 50 * 10_000  # globex's own event, counted after acme's
    assert np.array_equal(first, again, equal_nan=True)
    # A label names its account: acme's fraud label does not touch globex's event.
    label = Label(event_id="e1", account_id="acme", label="fraud", reported_at=T0, source="chargeback")
    assert engine.record_labels([label]) == 1
    later = engine.record([tx("e2", "globex", 3)])[0]
    assert later[RAW_INDEX["card_fraud_7d"]] == 1  # shared card: acme's fraud is visible, once


def test_redis_keys_and_event_guards_hold_no_identifier_in_clear(redis_client: redis.Redis) -> None:
    names = EntityNames(b"test key")
    store = SyncOnlineFeatureStore(redis_client, dedupe_ttl_s=3600, grace_ms=0, names=names)
    secret = {"card_id": "4111111111111111", "merchant_id": "shop-42", "customer_id": "cust-alice",
              "device_id": "dev-9", "ip": "203.0.113.7", "email": "alice@example.com"}  # fmt: skip
    store.record_and_fetch([tx("e1", "acme", 0, **secret)])
    dump = b" ".join(redis_client.keys("*"))
    for key in redis_client.keys("rw:f:{ev:*"):
        dump += b" ".join(v for v in redis_client.hgetall(key).values())
    for value in secret.values():
        assert value.encode() not in dump
    assert redis_client.exists(f"rw:f:{{card:{names.entity(0, 'acme', secret['card_id'])}}}")
    # Another key gives other names: the names depend on the key, not only on the values.
    assert EntityNames(b"other").entity(0, "acme", "4111") != names.entity(0, "acme", "4111")


def test_the_embedded_default_key_is_made_once_and_kept_private(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("RISKWIRE_PSEUDONYM_KEY", raising=False)
    settings = Settings(var_dir=tmp_path / "var")
    first = load_names(settings)
    path = tmp_path / "var" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_names(settings) == first
    assert load_names(Settings(var_dir=tmp_path / "other")).key != first.key
    chosen = load_names(Settings(var_dir=tmp_path / "x", pseudonym_key="00ff" * 8))
    assert chosen.key == bytes.fromhex("00ff" * 8) and not (tmp_path / "x").exists()


def test_shared_signals_setting(monkeypatch) -> None:
    monkeypatch.setenv("RISKWIRE_SHARED_SIGNALS", "card, device")
    assert Settings().shared_signals == frozenset({"card", "device"})
    monkeypatch.setenv("RISKWIRE_SHARED_SIGNALS", "card,iban")
    with pytest.raises(ValidationError, match="unknown entity kinds"):
        Settings()


def test_a_decision_names_the_shared_signals_that_fed_it(services, redis_client, model_dir) -> None:
    """With cards shared, two accounts' payments on one card read one state, and each record
    says so; without sharing, no record names any."""
    import asyncio

    import orjson
    import redis.asyncio as aioredis

    from explain.risk_score import RiskPolicy
    from features.memory_store import MemoryFeatureStore
    from models.batch_model import BatchModel
    from models.loading import ModelRegistry
    from pipeline.live_state import LiveState
    from pipeline.scoring import ScoringPipeline
    from store.decisions import DecisionStore

    def pipeline(client: aioredis.Redis, shared: frozenset[str]) -> ScoringPipeline:
        return ScoringPipeline(
            features=MemoryFeatureStore(grace_ms=0, names=EntityNames(shared=shared)),
            decisions=DecisionStore(client, ttl_s=3600, indexed=False),
            live=LiveState(BatchModel(ModelRegistry(model_dir).load())),
            policy=RiskPolicy(),
            shared_signals=shared,
        )

    async def run(shared: frozenset[str]) -> list[dict[str, object]]:
        client = aioredis.Redis.from_url(services.redis_url)
        try:
            scored, _report = await pipeline(client, shared).score(
                [tx("s1", "acme", 0, 100.0, device_id="d1"), tx("s1", "globex", 1, 100.0)]
            )
            return [orjson.loads(s.body) for s in scored]
        finally:
            await client.aclose()

    shared = asyncio.run(run(frozenset({"card", "device"})))
    assert [r["account_id"] for r in shared] == ["acme", "globex"]  # one id, two payments
    assert [r["shared_signals"] for r in shared] == [["card", "device"], ["card"]]
    assert shared[1]["feature_vector"]["values"] != shared[0]["feature_vector"]["values"]
    redis_client.flushdb()
    apart = asyncio.run(run(frozenset()))
    assert all("shared_signals" not in r for r in apart)
