"""Encryption at rest: AES-256-GCM with key ids and rotation, off by default; pending
labels and review notes sealed in Redis when keys are set."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest
from pydantic import SecretStr

from contracts.settings import Settings
from store.at_rest import PREFIX, AtRest, AtRestError
from store.connect import async_client
from store.layout import ONLINE_PENDING
from store.online_checkpoint import Commit, OnlineCheckpoint


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


K1, K2 = _key(), _key()


def test_off_by_default_and_plaintext_passes_through() -> None:
    box = AtRest.from_settings(Settings())
    assert not box.enabled
    assert box.encrypt(b"{}", b"k") == b"{}"
    on = AtRest.parse(f"k1:{K1}")
    assert on.decrypt(b'{"written": "before encryption"}', b"k") == b'{"written": "before encryption"}'


def test_a_value_is_sealed_bound_to_its_key_name_and_fresh_each_time() -> None:
    box = AtRest.parse(f"k1:{K1}")
    a, b = box.encrypt(b"secret record", b"rw:d:e1"), box.encrypt(b"secret record", b"rw:d:e1")
    assert a != b and a.startswith(PREFIX + b"k1:") and b"secret" not in a
    assert a.decode().isascii()
    assert box.decrypt(a, b"rw:d:e1") == b"secret record"
    with pytest.raises(AtRestError, match="moved from another key"):
        box.decrypt(a, b"rw:d:e2")  # the same ciphertext under another event's key
    tampered = a[:-3] + (b"A" if a[-3:-2] != b"A" else b"B") + a[-2:]
    with pytest.raises(AtRestError):
        box.decrypt(tampered, b"rw:d:e1")


def test_rotation_new_key_first_old_values_still_read_then_rewritten() -> None:
    old = AtRest.parse(f"k1:{K1}")
    sealed = old.encrypt(b"v", b"where")
    rotated = AtRest.parse(f"k2:{K2},k1:{K1}")
    assert rotated.current == "k2" and rotated.decrypt(sealed, b"where") == b"v"
    fresh = rotated.rotate(sealed, b"where")
    assert rotated.key_id(fresh) == "k2" and rotated.rotate(fresh, b"where") is fresh
    with pytest.raises(AtRestError, match="'k2', not configured"):
        old.decrypt(fresh, b"where")
    assert AtRest.parse(f"k2:{K2}").decrypt(fresh, b"where") == b"v"  # k1 can now be dropped


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k1", "kid:base64key"),
        (f"bad kid:{K1}", "kid:base64key"),
        ("k1:not base64!", "not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"k1:{K1},k1:{K2}", "listed twice"),
    ],
)
def test_bad_key_settings_are_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(AtRestError, match=message) as caught:
        AtRest.parse(spec)
    assert "\n" not in str(caught.value) and K1 not in str(caught.value)


def test_url_safe_keys_are_accepted() -> None:
    raw = os.urandom(32)
    box = AtRest.parse("k1:" + base64.urlsafe_b64encode(raw).decode())
    assert box.decrypt(box.encrypt(b"x", b"w"), b"w") == b"x"


@pytest.mark.services
def test_pending_labels_are_sealed_in_redis(services, redis_client) -> None:
    box = AtRest.from_settings(Settings(at_rest_keys=SecretStr(f"k1:{K1}")))
    body = b'{"event_id": "e9", "label": "fraud", "reported_at": "2026-02-01T00:00:00Z", "source": "x"}'

    async def run() -> dict[str, bytes]:
        client = async_client(services.redis_url)
        try:
            checkpoint = OnlineCheckpoint(client, seen_ttl_s=60, cipher=box)
            assert await checkpoint.commit(0, {}, Commit(offsets={}, pending_add=[("e9", body)]))
            return await checkpoint.pending_sample(10)
        finally:
            await client.aclose()

    assert asyncio.run(run()) == {"e9": body}
    stored = redis_client.hget(ONLINE_PENDING, "e9")
    assert stored is not None and stored.startswith(b"rwe1:k1:") and b"fraud" not in stored


def test_decision_records_are_sealed_in_redis_and_served_in_clear(services, redis_client) -> None:
    """Written sealed (bound to its key), read opened by every reader: lookup, search,
    redelivery, the accounts lookup, label learning's and the backtest's reader."""
    from datetime import UTC, datetime

    import orjson

    from contracts.identity import event_ref
    from contracts.records import Transaction
    from store.decisions import DecisionStore, read_records
    from store.layout import INDEX_ALL, decision_key

    box = AtRest.parse(f"k1:{K1}")
    tx = Transaction(
        event_id="e1", occurred_at=datetime(2026, 3, 1, tzinfo=UTC), amount=10.0, currency="EUR",
        card_id="4111-secret-card", merchant_id="m1", account_id="acme",
    )  # fmt: skip
    body = orjson.dumps(
        {"event_id": "e1", "account_id": "acme", "card_id": "4111-secret-card",
         "scored_at": datetime.now(UTC), "risk_score": 80, "risk_level": "highest", "decision": "block"}
    )  # fmt: skip
    ref = event_ref("acme", "e1")

    async def run() -> list[object]:
        client = async_client(services.redis_url)
        try:
            store = DecisionStore(client, ttl_s=3600, cipher=box)
            first = await store.put_new([(tx, body)])
            again = await store.put_new([(tx, b'{"event_id":"e1","other":1}')])  # redelivered
            page = await store.scan([INDEX_ALL], {}, limit=5, budget=100)
            plain = DecisionStore(client, ttl_s=3600)  # no keys: the sealed value is not served as-is
            with pytest.raises(AtRestError, match="not configured"):
                await plain.get(ref)
            return [
                first, again, await store.get(ref), await store.find("e1"),
                [f.body for f in page.items], await read_records(client, [ref], box),
            ]  # fmt: skip
        finally:
            await client.aclose()

    first, again, got, found, scanned, read = asyncio.run(run())
    stored = redis_client.get(decision_key(ref))
    assert stored.startswith(PREFIX + b"k1:") and b"4111-secret-card" not in stored
    assert first == again == [body] and got == body
    assert found == [(ref, body)] and scanned == [body] and read == [body]
    # Bound to its key name: the same bytes under another event's key do not open.
    with pytest.raises(AtRestError):
        box.decrypt(stored, decision_key(event_ref("globex", "e1")).encode())
