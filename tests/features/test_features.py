"""Online features in the real Redis against their offline twin, the pre-redesign twin,
a plain recomputation and hand-computed values.

The Redis store and ``OfflineFeatureEngine`` run the same kernel and must agree byte for
byte (zero train/serve skew); both must also agree with the pre-redesign twin of the Lua
script (``tests/features/features_twin_v1.py``), so the move into the worker changed no value.
Redeliveries and reorderings within grace must change nothing, and everything must follow
docs/redis-keys.md ("Online features").
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.identity import ENTITY_KINDS, EntityNames, event_ref
from contracts.records import Label, Transaction
from features.aggregates import RAW_FIELDS, RAW_INDEX, parse_aggregates
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES, FEATURES
from features.memory_store import MemoryFeatureStore
from features.offline import OfflineFeatureEngine
from features.vectorize import vectorize
from store.feature_labels import label_steps
from store.feature_state import LATE_EVENTS_KEY, OnlineFeatureStore, SyncOnlineFeatureStore
from store.layout import FeatureKeys
from tests.features.features_reference import expected_raw
from tests.features.features_twin_v1 import OfflineFeatureEngine as TwinV1

SHARED = EntityNames(shared=frozenset(ENTITY_KINDS))


def entity_key(kind: str, value: str, account: str | None = None) -> str:
    """The Redis key of an entity's state, as the store (default names) calls it."""
    k = ENTITY_KINDS.index(kind)
    return FeatureKeys().entity(k, EntityNames().entity(k, account, value))


pytestmark = pytest.mark.services

MINUTE = 60_000
HOUR = 3_600_000
DAY = 24 * HOUR
MONTH = 30 * DAY
DEDUPE_TTL_S = 35 * 24 * 3600
GRACE_MS = HOUR
BATCH_SIZES = (1, 7, 500, 2, 64, 1000, 13, 250, 3)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z, a Sunday, by hand


def tx(
    event_id: str,
    at_ms: int,
    card: str = "c1",
    merchant: str = "m1",
    amount: float = 10.0,
    tz: timezone = UTC,
    **extra: object,
) -> Transaction:
    """A transaction at an exact epoch millisecond (built without float arithmetic)."""
    when = (EPOCH + timedelta(milliseconds=at_ms)).astimezone(tz)
    t = Transaction(
        event_id=event_id,
        occurred_at=when,
        amount=amount,
        currency="EUR",
        card_id=card,
        merchant_id=merchant,
        **extra,
    )
    assert t.occurred_ms == at_ms
    return t


def label(event_id: str, reported_ms: int, kind: str = "fraud", account: str | None = None) -> Label:
    when = EPOCH + timedelta(milliseconds=reported_ms)
    return Label(event_id=event_id, label=kind, reported_at=when, source="chargeback", account_id=account)


def batches(items: Sequence[Transaction], sizes: Sequence[int] = BATCH_SIZES) -> list[list[Transaction]]:
    out, start, i = [], 0, 0
    while start < len(items):
        size = sizes[i % len(sizes)]
        out.append(list(items[start : start + size]))
        start += size
        i += 1
    return out


def store_for(client: redis.Redis, grace_ms: int = GRACE_MS) -> SyncOnlineFeatureStore:
    return SyncOnlineFeatureStore(client, dedupe_ttl_s=DEDUPE_TTL_S, grace_ms=grace_ms)


def feature_state(client: redis.Redis) -> dict[bytes, object]:
    """Every feature key's content (strings, hashes and sorted sets)."""
    out: dict[bytes, object] = {}
    for key in sorted(client.scan_iter("rw:f:*", count=1000)):
        kind = client.type(key)
        if kind == b"string":
            out[key] = client.get(key)
        elif kind == b"hash":
            out[key] = client.hgetall(key)
        else:
            out[key] = client.zrange(key, 0, -1, withscores=True)
    return out


def synthetic_labels(txs: Sequence[Transaction], fraud_ids: set[str], seed: int) -> list[Label]:
    """Fraud labels for the simulator's frauds plus noise: legit overrides, duplicates and
    labels for events that arrive later, all reported within the history."""
    rng = random.Random(seed)
    out = []
    for t in txs:
        hit = t.event_id in fraud_ids or rng.random() < 0.01
        if not hit:
            continue
        rep = t.occurred_ms + rng.choice([-HOUR, 0, 1, HOUR, DAY, 3 * DAY])
        out.append(label(t.event_id, rep, account=t.account_id))
        if rng.random() < 0.2:
            out.append(label(t.event_id, rep + rng.choice([0, DAY]), "legit", t.account_id))
        if rng.random() < 0.2:
            out.append(label(t.event_id, rep, account=t.account_id))
    return sorted(out, key=lambda lab: lab.reported_at)


# --- (a) zero train/serve skew on the simulated history, labels included -------------------


def test_streamed_history_matches_the_offline_engine_exactly(redis_client, small_history):
    txs, _, fraud_ids = small_history
    assert len(txs) > 5000
    labels = synthetic_labels(txs, fraud_ids, seed=3)
    # Every signal shared across accounts, as the pre-redesign twin knows no accounts.
    store = SyncOnlineFeatureStore(redis_client, dedupe_ttl_s=DEDUPE_TTL_S, grace_ms=GRACE_MS, names=SHARED)
    engine = OfflineFeatureEngine(grace_ms=GRACE_MS, names=SHARED)
    twin = TwinV1(grace_ms=GRACE_MS)
    online: list[str] = []
    offline: list[str] = []
    before: list[str] = []
    done = 0
    for part in batches(txs):
        # Labels reported up to a day after the batch: some arrive before their event (pending).
        horizon = part[-1].occurred_ms + DAY
        due = [lab for lab in labels[done:] if lab.reported_at.timestamp() * 1000 <= horizon]
        done += len(due)
        assert store.record_labels(due) == engine.record_labels(due) == twin.record_labels(due)
        online += store.raw(part)
        offline += engine.record_and_fetch(part)
        before += twin.record_and_fetch(part)
    mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(online, offline, strict=True)) if a != b]
    assert mismatches[:3] == []
    assert [i for i, (a, b) in enumerate(zip(online, before, strict=True)) if a != b][:3] == []

    raw = parse_aggregates(online)
    col = RAW_INDEX
    # The history is rich enough for the comparison to mean something.
    for name in ("card_n_1h", "merchant_n_10m", "ip_n_24h", "card_merchants_7d", "device_cards_7d"):
        assert np.nanmax(raw[:, col[name]]) >= 2, name
    assert np.nanmax(raw[:, col["card_fraud_30d"]]) >= 1 and np.nanmax(raw[:, col["merchant_fraud_7d"]]) >= 2
    assert (
        np.isnan(raw[:, col["card_previous_ms"]]).any()
        and not np.isnan(raw[:, col["card_previous_ms"]]).all()
    )

    m_online, m_offline = vectorize(txs, raw), vectorize(txs, parse_aggregates(offline))
    np.testing.assert_array_equal(m_online.values, m_offline.values)
    np.testing.assert_array_equal(m_online.complete, m_offline.complete)
    assert m_online.values.shape == (len(txs), len(FEATURE_NAMES))
    # Every feature takes more than one value on this history (none is dead).
    for name, j in FEATURE_INDEX.items():
        assert len(np.unique(m_online.values[:, j][~np.isnan(m_online.values[:, j])])) >= 2, name


# --- (b) redelivery ---------------------------------------------------------------------------


def test_redelivered_batches_return_first_values_and_change_nothing(redis_client, small_history):
    txs = small_history[0][:2500]
    store = store_for(redis_client)
    first = [r for part in batches(txs) for r in store.raw(part)]
    by_id = {t.event_id: first[i] for i, t in enumerate(txs)}
    before = feature_state(redis_client)
    assert len(before) > 2500

    rng = random.Random(5)
    old = list(txs[100:700])
    again = old + rng.sample(old, 200)  # duplicates inside one batch as well
    rng.shuffle(again)
    for part in (again, txs[:1], txs):  # shuffled with dups, a single event, everything at once
        assert store.raw(part) == [by_id[t.event_id] for t in part]
    assert feature_state(redis_client) == before


def test_duplicates_inside_a_new_batch_are_recorded_once(redis_client, small_history):
    txs = small_history[0][:1200]
    store = store_for(redis_client)
    engine = OfflineFeatureEngine()
    head, tail = txs[:1000], txs[1000:]
    assert store.raw(head) == engine.record_and_fetch(head)
    doubled = [t for t in tail for _ in range(2)] + list(tail[:50])
    got = store.raw(doubled)
    assert got == engine.record_and_fetch(doubled)
    assert all(got[i] == got[i + 1] for i in range(0, 2 * len(tail), 2))


# --- (c) hand-computed cases -------------------------------------------------------------------

T = T0_MS + 31 * DAY + 12 * HOUR + 30 * MINUTE  # 2026-04-01T12:30:00Z, a Wednesday
PLUS2 = timezone(timedelta(hours=2))


def _raw_of(rows: list[str], i: int) -> dict[str, str]:
    return dict(zip(RAW_FIELDS, rows[i].split(" "), strict=True))


@pytest.mark.parametrize("side", ["redis", "offline"])
def test_hand_computed_windows(side, redis_client):
    events = [
        tx("e1", T0_MS, amount=10.0, device_id="d1", merchant_country="DE"),
        tx("e2", T - 31 * DAY, amount=20.0, merchant="m2"),  # day D − 31: outside 30 d
        tx("e3", T - 30 * DAY - 12 * HOUR, amount=30.0, merchant="m2"),  # day D − 30: inside
        tx("e4", T - 24 * HOUR - 31 * MINUTE, amount=40.0, merchant_country="FR"),  # hour H − 25: out
        tx("e5", T - 24 * HOUR - 29 * MINUTE, amount=50.0, device_id="d1"),  # hour H − 24: in
        tx("e6", T - HOUR - 5 * MINUTE, amount=60.0, merchant="m3"),  # 5-min bucket B − 13: out
        tx("e7", T - HOUR, amount=70.0),  # bucket B − 12: in
        tx("e8", T - 11 * MINUTE, amount=80.0, card="c2", device_id="d1"),  # minute − 11: out of 10 m
        tx("e9", T - 10 * MINUTE, amount=90.0, merchant_country="FR"),  # minute − 10: in
        tx("eT", T, amount=300.0, tz=PLUS2, device_id="d1", merchant_country="FR", channel="atm"),
    ]
    if side == "redis":
        store = store_for(redis_client)
        rows = [r for part in (events[:1], events[1:6], events[6:]) for r in store.raw(part)]
    else:
        rows = OfflineFeatureEngine().record_and_fetch(events)
    got = _raw_of(rows, len(events) - 1)
    # card c1 (e8 is c2): 10 m: e9 | 1 h: e7, e9 | 24 h: e5, e6, e7, e9 | 7 d: e4..e7, e9 | 30 d: + e3
    assert [got[f"card_n_{w}"] for w in ("10m", "1h", "24h", "7d", "30d")] == ["1", "2", "4", "5", "6"]
    assert got["card_u_1h"] == str(160 * 10_000) and got["card_u_30d"] == str(340 * 10_000)
    assert got["card_cents2_30d"] == str(sum((a * 100) ** 2 for a in (30, 40, 50, 60, 70, 90)))
    assert got["card_previous_ms"] == str(T - 10 * MINUTE)
    assert got["card_first_ms"] == str(T0_MS) and got["device_first_ms"] == str(T0_MS)
    assert got["email_first_ms"] == "" and got["email_n_1h"] == "" and got["customer_n_30d"] == ""
    # merchant m1: e1 (31 d before: out), e4, e5, e7, e8, e9 in the right windows
    assert [got[f"merchant_n_{w}"] for w in ("10m", "1h", "24h", "30d")] == ["1", "3", "4", "5"]
    # device d1: e5 (24 h), e8 (10 m: out, 1 h: in); cards c1 and c2
    assert [got[f"device_n_{w}"] for w in ("10m", "1h", "24h")] == ["0", "1", "2"]
    assert (got["device_cards_24h"], got["device_cards_7d"]) == ("2", "2")
    # distinct for c1: 24 h = today and yesterday (days D − 1, D): m1, m3; countries FR
    assert (got["card_merchants_24h"], got["card_merchants_7d"]) == ("2", "2")
    assert (got["card_countries_24h"], got["card_countries_7d"]) == ("1", "1")
    assert got["history_since_ms"] == str(T0_MS) and got["late"] == "0"

    m = vectorize(events, parse_aggregates(rows))
    f = {name: m.values[-1, FEATURE_INDEX[name]] for name in FEATURE_NAMES}
    amounts = np.array([30, 40, 50, 60, 70, 90], dtype=float)
    assert f["card_amount_avg_30d"] == pytest.approx(amounts.mean(), rel=1e-12)
    assert f["card_amount_std_30d"] == pytest.approx(amounts.std(), rel=1e-9)
    assert f["amount_to_card_avg_30d"] == pytest.approx(300 / amounts.mean(), rel=1e-12)
    assert f["amount_zscore_card_30d"] == pytest.approx((300 - amounts.mean()) / amounts.std(), rel=1e-9)
    assert f["card_seconds_since_previous"] == 600.0
    assert f["card_seconds_since_first"] == (T - T0_MS) / 1000
    assert math.isnan(f["email_seconds_since_first"]) and math.isnan(f["email_count_1h"])
    assert (f["local_hour"], f["is_weekend"], f["channel_code"]) == (14, 0, 2)
    assert (f["card_fraud_count_30d"], f["card_fraud_rate_30d"]) == (0, 0)
    assert m.complete[-1].all()
    first = m.values[0]
    for name in ("card_amount_avg_30d", "card_seconds_since_previous", "card_fraud_rate_7d"):
        assert math.isnan(first[FEATURE_INDEX[name]]), name
    assert first[FEATURE_INDEX["card_count_30d"]] == 0
    windowed = {f.name for f in FEATURES if f.window_ms}
    assert {n for n, ok in zip(FEATURE_NAMES, m.complete[0], strict=True) if not ok} == windowed


@pytest.mark.parametrize("side", ["redis", "offline"])
def test_label_features_by_hand(side, redis_client):
    if side == "redis":
        store = store_for(redis_client)
        record, labels = store.raw, store.record_labels
    else:
        engine = OfflineFeatureEngine()
        record, labels = engine.record_and_fetch, engine.record_labels
    a = tx("a", T - 3 * DAY)
    b = tx("b", T - 2 * DAY, merchant="m2")
    c = tx("c", T - 20 * DAY)
    assert labels([label("later", T - DAY)]) == 1  # not seen yet: pending
    assert labels([label("later", T - DAY)]) == 0  # the same again: nothing changes
    record([c, a, b])
    assert labels([label("a", T - HOUR), label("b", T + HOUR), label("c", T - 10 * DAY)]) == 3
    assert labels([label("a", T - HOUR)]) == 0  # duplicate
    late = tx("later", T - 4 * DAY)  # its pending label (reported T − 1 d) now applies
    record([late])

    def raw_at(at: int, card: str = "c1", merchant: str = "m1") -> dict[str, str]:
        return _raw_of(record([tx(f"probe{at}{card}{merchant}", at, card=card, merchant=merchant)]), 0)

    now = raw_at(T)
    # card c1: a (reported T − 1 h ≤ T), b (reported T + 1 h: not yet), c (20 d ago: 30 d only),
    # later (reported T − 1 d)
    assert (now["card_fraud_7d"], now["card_fraud_30d"]) == ("2", "3")
    assert (now["merchant_fraud_7d"], now["merchant_fraud_30d"]) == ("2", "3")  # m1: a, later, c
    assert raw_at(T + 2 * HOUR, merchant="m2")["merchant_fraud_7d"] == "1"  # b, now reported
    # Before a's report only `later` (and c) count; labels take effect in event time.
    early = raw_at(T - 2 * HOUR)
    assert (early["card_fraud_7d"], early["card_fraud_30d"]) == ("1", "2")
    # A later legit label takes the event out of the fraud counts.
    assert labels([label("a", T, "legit")]) == 1
    assert labels([label("a", T - 2 * HOUR, "fraud")]) == 0  # older than the current label
    assert raw_at(T + 3 * HOUR)["card_fraud_7d"] == "2"  # later, b


@pytest.mark.parametrize("side", ["redis", "offline"])
def test_late_events_are_counted_where_possible_and_reported(side, redis_client):
    events = [tx("n1", T), tx("n2", T + 3 * HOUR), tx("old", T - DAY + 1), tx("n3", T + 3 * HOUR + 1)]
    if side == "redis":
        store = store_for(redis_client)
        rows = store.raw(events)
        assert redis_client.get(LATE_EVENTS_KEY) == b"1"
    else:
        engine = OfflineFeatureEngine()
        rows = engine.record_and_fetch(events)
        assert engine.late_events == 1
    old, n3 = _raw_of(rows, 2), _raw_of(rows, 3)
    assert old["late"] == "1" and n3["late"] == "0"
    # `old` is still counted in the day and hour buckets that are kept (24 h of n3: no, 30 d: yes).
    assert n3["card_n_30d"] == "3" and n3["card_n_24h"] == "2" and n3["card_n_1h"] == "1"
    m = vectorize(events, parse_aggregates(rows))
    assert not m.complete[2, FEATURE_INDEX["card_count_30d"]] and m.complete[2, FEATURE_INDEX["amount"]]


# --- (d) property: the script equals a plain recomputation ----------------------------------

GAPS = [0, 0, 1, 999, MINUTE, 5 * MINUTE - 1, HOUR, 7 * HOUR, DAY - 1, DAY, 6 * DAY, MONTH]


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[object], int]:
    """Arrival steps: event batches (with redeliveries, reordered within grace) and label batches."""
    n = draw(st.integers(1, 20))
    grace = draw(st.sampled_from([0, HOUR]))
    rng = draw(st.randoms(use_true_random=False))
    at = T0_MS
    events = []
    for i in range(n):
        at += draw(st.sampled_from(GAPS))
        events.append(
            tx(
                f"ev{i}",
                at,
                card=rng.choice(["c1", "c2", "c3"]),
                merchant=rng.choice(["m1", "m2"]),
                amount=rng.randint(1, 10**7) / 100,
                device_id=rng.choice(["d1", "d2", None]),
                ip=rng.choice(["i1", None]),
                email=rng.choice(["e1", "e2", None]),
                customer_id=rng.choice(["u1", None]),
                merchant_country=rng.choice(["FR", "DE", None]),
            )
        )
    # Arrival order: by time plus a delay up to the grace period.
    arrivals = sorted(events, key=lambda e: e.occurred_ms + rng.randint(0, grace))
    for _ in range(rng.randint(0, n)):
        j = rng.randrange(len(arrivals))
        arrivals.insert(rng.randint(j + 1, len(arrivals)), arrivals[j])
    steps: list[object] = []
    i = 0
    while i < len(arrivals):
        size = rng.randint(1, 5)
        steps.append(arrivals[i : i + size])
        i += size
        if rng.random() < 0.5:
            target = rng.choice(events)
            rep = target.occurred_ms + rng.choice([-1, 0, 1, HOUR, DAY, 8 * DAY])
            steps.insert(
                rng.randint(0, len(steps)), [label(target.event_id, rep, rng.choice(["fraud", "legit"]))]
            )
    steps.append(list(arrivals))  # a full replay at the end
    return steps, grace


@pytest.fixture(scope="module")
def module_redis(services):
    client = redis.Redis.from_url(services.redis_url)
    yield client
    client.flushdb()
    client.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=streams())
def test_script_equals_plain_recomputation(module_redis, case):
    steps, grace = case
    module_redis.flushdb()
    store = store_for(module_redis, grace_ms=grace)
    recorded: list[Transaction] = []
    labels: list[Label] = []
    first: dict[str, str] = {}
    since: int | None = None
    for step in steps:
        if step and isinstance(step[0], Label):
            store.record_labels(step)
            labels += step
            continue
        got = store.raw(step)
        for e, row in zip(step, got, strict=True):
            if e.event_id in first:
                assert row == first[e.event_id]
                continue
            since = e.occurred_ms if since is None else since
            assert row == expected_raw(e, recorded, labels, since), e.event_id
            first[e.event_id] = row
            recorded.append(e)
        # After every step, probes of every entity now (read-only) equal the recomputation.
        top = max(r.occurred_ms for r in recorded)
        for j, e in enumerate(recorded[-3:]):
            at = top + [0, 1, MINUTE][j]
            probe = e.model_copy(update={"event_id": "probe", "occurred_at": tx("p", at).occurred_at})
            assert store.raw([probe], record=False)[0] == expected_raw(probe, recorded, labels, since)


# --- (e) memory per entity ------------------------------------------------------------------


def test_memory_per_entity_is_bounded(redis_client):
    store = store_for(redis_client)
    card_events = [
        tx(f"c{i}", T0_MS + i * 3 * HOUR, card="busy-card", merchant=f"m{i % 40}") for i in range(320)
    ]
    merchant_events = [
        tx(f"m{i}", T0_MS + i * 90_000, card=f"k{i % 5000}", merchant="big-merchant", ip="10.0.0.1")
        for i in range(32 * 960)
    ]
    for part in batches(card_events, [100]) + batches(merchant_events, [500]):
        store.record_and_fetch(part)
    card = redis_client.memory_usage(entity_key("card", "busy-card"), samples=0)
    merchant = redis_client.memory_usage(entity_key("merchant", "big-merchant"), samples=0)
    ip = redis_client.memory_usage(entity_key("ip", "10.0.0.1"), samples=0)
    event = redis_client.memory_usage(FeatureKeys().event(event_ref(None, "m1000")), samples=0)
    print(f"bytes: card {card}, merchant {merchant}, ip {ip}, event {event}")
    assert card is not None and card <= 1500
    assert merchant is not None and merchant <= 4000
    assert ip is not None and ip <= 6000
    assert event is not None and event <= 700


# --- (f) one call per batch: in-batch caching, write-back and failures -----------------------


def _late_stream(seed: int, n: int = 300, grace: int = GRACE_MS) -> list[Transaction]:
    """Few entities, jumps of minutes to weeks, arrivals delayed up to twice the grace period
    (so some events are late) and redeliveries: inside one batch the entities' bounds move
    many times and late events reach buckets that are dropped when the state is written."""
    rng = random.Random(seed)
    at, events = T0_MS, []
    for i in range(n):
        at += rng.choice([*GAPS, 2 * HOUR, 3 * HOUR, 25 * HOUR, 9 * DAY])
        events.append(
            tx(
                f"s{seed}-{i}",
                at,
                card=rng.choice(["c1", "c2"]),
                merchant=rng.choice(["m1", "m2", "m3"]),
                amount=rng.randint(1, 10**6) / 100,
                device_id=rng.choice(["d1", None]),
                ip=rng.choice(["i1", "i2"]),
                email=rng.choice(["e1", None]),
                customer_id=rng.choice(["u1", None]),
                merchant_country=rng.choice(["FR", "DE", "NL", None]),
            )
        )
    arrivals = sorted(events, key=lambda e: e.occurred_ms + rng.randint(0, 2 * grace + 1))
    for _ in range(n // 10):
        arrivals.insert(rng.randrange(len(arrivals) + 1), rng.choice(events))
    return arrivals


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_big_batch_with_late_events_matches_the_offline_engine(redis_client, seed):
    arrivals = _late_stream(seed)
    engine = OfflineFeatureEngine(grace_ms=GRACE_MS)
    expected = engine.record_and_fetch(arrivals)
    assert engine.late_events >= 3  # the stream does exercise late events
    assert expected == TwinV1(grace_ms=GRACE_MS).record_and_fetch(arrivals)
    assert store_for(redis_client).raw(arrivals) == expected
    assert redis_client.get(LATE_EVENTS_KEY) == str(engine.late_events).encode()
    # The states written back once at the end are those the engine holds: probes agree.
    top = max(e.occurred_ms for e in arrivals)
    probes = [
        e.model_copy(update={"event_id": f"p{j}", "occurred_at": tx("p", top + j * MINUTE).occurred_at})
        for j, e in enumerate(arrivals[-20:])
    ]
    assert store_for(redis_client).raw(probes, record=False) == engine.peek(probes)


def test_batch_size_changes_neither_results_nor_state(redis_client):
    arrivals = _late_stream(4, n=200)
    store = store_for(redis_client)
    one_by_one = [r for e in arrivals for r in store.raw([e])]
    keys_then = {k: redis_client.pttl(k) > 0 for k in redis_client.scan_iter("rw:f:*")}
    top = max(e.occurred_ms for e in arrivals)
    probes = [
        e.model_copy(update={"event_id": f"p{j}", "occurred_at": tx("p", top + j).occurred_at})
        for j, e in enumerate(arrivals)
    ]
    probed = store.raw(probes, record=False)
    redis_client.flushdb()
    assert store.raw(arrivals) == one_by_one
    assert {k: redis_client.pttl(k) > 0 for k in redis_client.scan_iter("rw:f:*")} == keys_then
    assert store.raw(probes, record=False) == probed


def test_a_batch_is_three_round_trips_of_one_key_commands(redis_client, small_history):
    txs = small_history[0][:1500]
    store = store_for(redis_client)
    store.raw(txs[:10])  # the scripts are loaded
    redis_client.config_resetstat()
    store.raw(txs[10:1010])
    calls = {name: v["calls"] for name, v in redis_client.info("commandstats").items()}
    # (commandstats also counts the commands the scripts run)
    entities = {  # per account: no signal is shared by default
        (kind, t.account_id, ident)
        for t in txs[10:1010]
        for kind, ident in zip(
            ("card", "customer", "merchant", "device", "ip", "email"),
            (t.card_id, t.customer_id, t.merchant_id, t.device_id, t.ip, t.email),
            strict=True,
        )
        if ident
    }
    assert len(entities) < 4000  # shared merchants, IPs, …: fewer entities than 6 per event
    # Read: one HMGET per event, every state and the history start in one MGET (one node).
    assert calls["cmdstat_mget"] == 1
    # Written: each event's hash once (no script), one compare-and-set per entity
    # (SET … IFEQ on this server), nothing spanning two keys.
    assert calls["cmdstat_hsetnx"] == calls["cmdstat_hset"] == calls["cmdstat_pexpire"] == 1000
    assert calls["cmdstat_set"] == len(entities) and "cmdstat_get" not in calls
    assert calls["cmdstat_hmget"] == 2000  # the read, and what the hash holds once written
    assert "cmdstat_eval" not in calls and "cmdstat_evalsha" not in calls


def test_a_corrupt_state_fails_the_batch_before_anything_is_written(redis_client):
    events = [tx("ok1", T), tx("ok2", T + MINUTE, card="c2"), tx("ok3", T + 2 * MINUTE)]
    redis_client.set(entity_key("card", "c2"), b"12345678" + bytes([99, 1, 2, 3]))
    with pytest.raises(ValueError, match="entity state format"):
        store_for(redis_client).raw(events)
    assert sorted(redis_client.scan_iter("rw:*")) == [entity_key("card", "c2").encode()]


def test_the_async_and_in_memory_stores_give_the_sync_stores_values(services, redis_client):
    """The worker's async store (its scripts forgotten by the server halfway, as after a
    restart) and replay's in-memory store agree with the sync store, labels and probes too."""
    arrivals = _late_stream(6, n=150)
    parts = batches(arrivals, (1, 17, 40, 2))
    fraud = [label(e.event_id, e.occurred_ms + MINUTE) for e in arrivals[::9]]
    labels_before = [fraud[i :: len(parts)] for i in range(len(parts))]
    top = max(e.occurred_ms for e in arrivals)
    probes = [
        e.model_copy(update={"event_id": f"p{j}", "occurred_at": tx("p", top + j * MINUTE).occurred_at})
        for j, e in enumerate(arrivals[-15:])
    ]

    sync = store_for(redis_client)
    expected = []
    for i, (labs, part) in enumerate(zip(labels_before, parts, strict=True)):
        if i == 2:  # the sync store reloads forgotten scripts too
            redis_client.script_flush()
        expected.append((sync.record_labels(labs), sync.record_and_fetch(part)))
    expected_probes = sync.peek(probes)
    assert sum(n for n, _ in expected) > 0  # some labels did change a state
    redis_client.flushdb()

    async def replay(store, flush_at: int | None) -> tuple[list, np.ndarray]:
        got = []
        for i, (labs, part) in enumerate(zip(labels_before, parts, strict=True)):
            if i == flush_at:
                redis_client.script_flush()
            got.append((await store.record_labels(labs), await store.record_and_fetch(part)))
        return got, await store.peek(probes)

    async def on_redis() -> tuple[list, np.ndarray]:
        client = aioredis.Redis.from_url(services.redis_url)
        try:
            store = OnlineFeatureStore(client, dedupe_ttl_s=DEDUPE_TTL_S, grace_ms=GRACE_MS)
            return await replay(store, flush_at=3)
        finally:
            await client.aclose()

    memory = MemoryFeatureStore(grace_ms=GRACE_MS)
    for got, got_probes in (asyncio.run(on_redis()), asyncio.run(replay(memory, None))):
        assert [n for n, _ in got] == [n for n, _ in expected]
        for (_, rows), (_, want) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(rows, want)
        np.testing.assert_array_equal(got_probes, expected_probes)
    empty = asyncio.run(memory.record_and_fetch([]))
    assert empty.shape == (0, expected_probes.shape[1])


def _drive(store: SyncOnlineFeatureStore, steps, hooks: dict[int, Callable[[], object]]) -> object:
    """Run a store's round trips by hand, calling ``hooks[i]`` before the ``i``-th one."""
    i = 0
    try:
        cmds = next(steps)
        while True:
            if i in hooks:
                hooks[i]()
            cmds = steps.send(store._execute(cmds))
            i += 1
    except StopIteration as stop:
        return stop.value


def test_a_label_whose_event_is_recorded_meanwhile_still_counts(redis_client):
    """The label's read finds no event; another worker records it before the label script
    runs, which then hands back the event's card and merchant: their states take the label."""
    store, other = store_for(redis_client), store_for(redis_client)
    store.raw([tx("warm", T - DAY, card="c0", merchant="m0")])  # the CAS probe is done
    event = tx("e1", T - HOUR, card="c9", merchant="m9", account_id="acme")
    fraud = label("e1", T - 30 * MINUTE, account="acme")
    steps = label_steps(store._cfg, [fraud])
    assert _drive(store, steps, {1: lambda: other.raw([event])}) == 1
    engine = OfflineFeatureEngine(grace_ms=GRACE_MS)
    engine.record_and_fetch([tx("warm", T - DAY, card="c0", merchant="m0"), event])
    engine.record_labels([fraud])
    probe = tx("probe", T, card="c9", merchant="m9", account_id="acme")
    got = _raw_of(store.raw([probe], record=False), 0)
    assert (got["card_fraud_7d"], got["merchant_fraud_7d"]) == ("1", "1")
    assert store.raw([probe], record=False) == engine.peek([probe])


def test_a_label_given_again_writes_no_state(redis_client):
    store = store_for(redis_client)
    events = [tx("e1", T - HOUR, account_id="acme"), tx("e2", T - HOUR + 1, card="c2")]
    store.raw(events)
    labels = [label("e1", T, account="acme"), label("e2", T)]
    assert store.record_labels(labels) == 2
    before = feature_state(redis_client)  # versions included: a rewrite would change them
    assert store.record_labels(labels) == 0
    assert store.record_labels([label("e1", T - MINUTE, "legit", account="acme")]) == 0  # older
    assert feature_state(redis_client) == before
    # A newer legit label for the account's event takes it out of its card's counts.
    assert store.record_labels([label("e1", T + MINUTE, "legit", account="acme")]) == 1
    probe = tx("probe", T + HOUR, account_id="acme")
    assert _raw_of(store.raw([probe], record=False), 0)["card_fraud_7d"] == "0"
    assert store.record_labels([]) == 0
