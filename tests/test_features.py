"""Online features in the real Redis against their offline twin and hand-computed values.

The Lua script (``features/lua/record_and_fetch.lua``) and ``OfflineFeatureEngine``
must agree exactly (zero train/serve skew), redeliveries must change nothing, and
both must follow docs/redis-keys.md: an event at ``t`` sees the events recorded
before it whose time lies in ``[t − window, t)``.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.records import Transaction
from features.aggregates import Aggregates, parse_aggregates
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES
from features.offline import OfflineFeatureEngine
from features.online_store import SyncOnlineFeatureStore
from features.vectorize import vectorize

pytestmark = pytest.mark.services

HOUR = 3_600_000
DAY = 24 * HOUR
MONTH = 30 * DAY
DEDUPE_TTL_S = 35 * 24 * 3600
GRACE_MS = HOUR
BATCH_SIZES = (1, 7, 500, 2, 64, 1000, 13, 250, 3)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday
T0_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z, by hand


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


def batches(items: Sequence[Transaction], sizes: Sequence[int] = BATCH_SIZES) -> list[list[Transaction]]:
    out, start, i = [], 0, 0
    while start < len(items):
        size = sizes[i % len(sizes)]
        out.append(list(items[start : start + size]))
        start += size
        i += 1
    return out


def stream(store: SyncOnlineFeatureStore, parts: Sequence[Sequence[Transaction]]) -> Aggregates:
    rows = [store.record_and_fetch(part) for part in parts]
    return np.vstack(rows) if rows else parse_aggregates([])


def entity_sets(client: redis.Redis) -> dict[bytes, list[tuple[bytes, float]]]:
    """Every card and merchant sorted set, with scores."""
    keys = sorted([*client.scan_iter("rw:f:card:*"), *client.scan_iter("rw:f:merchant:*")])
    return {k: client.zrange(k, 0, -1, withscores=True) for k in keys}


def store_for(client: redis.Redis, grace_ms: int = GRACE_MS) -> SyncOnlineFeatureStore:
    return SyncOnlineFeatureStore(client, dedupe_ttl_s=DEDUPE_TTL_S, grace_ms=grace_ms)


# --- (a) zero train/serve skew on the simulated history --------------------------------------


def test_streamed_history_matches_the_offline_engine_exactly(redis_client, small_history):
    txs, _, _ = small_history
    assert len(txs) > 5000
    parts = batches(txs)
    assert {len(p) for p in parts} >= {1, 7, 500, 1000}

    online = stream(store_for(redis_client), parts)
    offline_strings = OfflineFeatureEngine().record_and_fetch(txs)

    # The exact strings the script computed, as stored under rw:f:event:{id}.
    stored: list[bytes] = []
    ids = [t.event_id for t in txs]
    for start in range(0, len(ids), 2000):
        stored += redis_client.mget([f"rw:f:event:{i}" for i in ids[start : start + 2000]])
    assert None not in stored
    mismatches = [
        (ids[i], s.decode(), o)
        for i, (s, o) in enumerate(zip(stored, offline_strings, strict=True))
        if s.decode() != o
    ]
    assert mismatches == []

    offline = parse_aggregates(offline_strings)
    np.testing.assert_array_equal(online, offline)  # NaN == NaN here
    # The history is rich enough for the comparison to mean something.
    assert np.nanmax(online[:, 0]) >= 2 and np.nanmax(online[:, 8]) >= 10
    assert np.isnan(online[:, 6]).any() and (~np.isnan(online[:, 6])).any()

    m_online, m_offline = vectorize(txs, online), vectorize(txs, offline)
    np.testing.assert_array_equal(m_online.values, m_offline.values)
    np.testing.assert_array_equal(m_online.complete, m_offline.complete)
    assert m_online.values.shape == (len(txs), len(FEATURE_NAMES))


# --- (b) redelivery ---------------------------------------------------------------------------


def test_redelivered_batches_return_first_values_and_change_no_set(redis_client, small_history):
    txs = small_history[0][:2500]
    store = store_for(redis_client)
    first = stream(store, batches(txs))
    by_id = {t.event_id: first[i] for i, t in enumerate(txs)}
    before = entity_sets(redis_client)
    keys_before = redis_client.dbsize()
    assert len(before) > 50

    rng = random.Random(5)
    old = list(txs[100:700])
    again = old + rng.sample(old, 200)  # duplicates inside one batch as well
    rng.shuffle(again)
    for part in (again, txs[:1], txs):  # shuffled with dups, a single event, everything at once
        got = store.record_and_fetch(part)
        np.testing.assert_array_equal(got, np.vstack([by_id[t.event_id] for t in part]))
    assert entity_sets(redis_client) == before
    assert redis_client.dbsize() == keys_before

    # A lost idempotency key still cannot double-count: ZADD of an existing member is a no-op.
    # (Merchant members already trimmed by later writes come back, outside every later window.)
    lost = txs[1000:1100]
    lost_ids = {t.event_id.encode() for t in lost}
    redis_client.delete(*[f"rw:f:event:{t.event_id}" for t in lost])
    store.record_and_fetch(lost)
    after = entity_sets(redis_client)
    assert after.keys() == before.keys()
    for key, members in after.items():
        if key.startswith(b"rw:f:card:"):
            assert members == before[key], key
        else:
            assert set(before[key]) <= set(members), key
            assert {m for m, _ in set(members) - set(before[key])} <= lost_ids, key


def test_duplicates_inside_a_new_batch_are_recorded_once(redis_client, small_history):
    txs = small_history[0][:1200]
    store = store_for(redis_client)
    offline = OfflineFeatureEngine()
    head, tail = txs[:1000], txs[1000:]
    np.testing.assert_array_equal(
        store.record_and_fetch(head), parse_aggregates(offline.record_and_fetch(head))
    )
    doubled = [t for t in tail for _ in range(2)] + list(tail[:50])
    got = store.record_and_fetch(doubled)
    np.testing.assert_array_equal(got, parse_aggregates(offline.record_and_fetch(doubled)))
    for i in range(0, 2 * len(tail), 2):
        np.testing.assert_array_equal(got[i], got[i + 1])
    # 10 days of history < 30 days: nothing trimmed, one card member per event.
    card_members = [m for k in redis_client.scan_iter("rw:f:card:*") for m in redis_client.zrange(k, 0, -1)]
    assert len(card_members) == len(set(card_members)) == len(txs)


# --- (c) a hand-computed case ----------------------------------------------------------------

T = T0_MS + 31 * DAY  # 2026-04-01T00:00:00Z, a Wednesday
PLUS2 = timezone(timedelta(hours=2))

HAND_EVENTS = [
    tx("e1", T0_MS, amount=10.00, channel="pos", card_country="DE", merchant_country="DE"),
    tx("e3", T0_MS + DAY - 1, merchant="m2", amount=1000.00),
    tx("e2", T0_MS + DAY, merchant="m2", amount=20.00),  # = T − 30 d exactly
    tx("e4", T - DAY - 1, amount=40.00),
    tx("e5", T - DAY, amount=50.00),
    tx("e6", T - HOUR - 1, amount=60.00),
    tx("e7", T - HOUR, amount=70.25),
    tx("x1", T - 10 * 60_000, card="c2", amount=999.00),
    tx("e8", T - 1, merchant="m2", amount=5.50),
    tx("eS", T, amount=1.00),  # same instant as eT, recorded first
    tx(
        "eT",
        T,
        amount=300.00,
        tz=PLUS2,
        channel="atm",
        card_country="DE",
        merchant_country="FR",
    ),
]


def _online(client: redis.Redis) -> Callable[[list[Transaction]], Aggregates]:
    return store_for(client).record_and_fetch


def _offline(_client: redis.Redis) -> Callable[[list[Transaction]], Aggregates]:
    engine = OfflineFeatureEngine()
    return lambda part: parse_aggregates(engine.record_and_fetch(part))


@pytest.mark.parametrize("make", [_online, _offline], ids=["redis", "offline"])
def test_hand_computed_windows(make, redis_client):
    fetch = make(redis_client)
    ev = HAND_EVENTS
    raw = np.vstack([fetch(ev[0:1]), fetch(ev[1:4]), fetch(ev[4:9]), fetch(ev[9:11])])
    row = {t.event_id: i for i, t in enumerate(ev)}
    nan = math.nan

    # card 1h count, units | 24h | 30d | previous ms | merchant 1h, 24h | history since
    expected = {
        "e1": [0, 0, 0, 0, 0, 0, nan, 0, 0, T0_MS],
        "e2": [1, 10_000_000, 2, 10_100_000, 2, 10_100_000, T0_MS + DAY - 1, 1, 1, T0_MS],
        "eT": [2, 757_500, 4, 1_857_500, 6, 2_457_500, T - 1, 2, 4, T0_MS],
    }
    for event_id, want in expected.items():
        np.testing.assert_array_equal(raw[row[event_id]], np.array(want, dtype=float), err_msg=event_id)
    # An event at exactly t is not counted: the tie gives both events the same view.
    np.testing.assert_array_equal(raw[row["eS"]], raw[row["eT"]])

    m = vectorize(ev, raw)
    f = {name: m.values[row["eT"], FEATURE_INDEX[name]] for name in FEATURE_NAMES}
    assert f["amount"] == 300.0
    assert (f["card_count_1h"], f["card_amount_sum_1h"]) == (2, 75.75)
    assert (f["card_count_24h"], f["card_amount_sum_24h"]) == (4, 185.75)
    assert f["card_count_30d"] == 6
    assert f["card_amount_avg_30d"] == pytest.approx(245.75 / 6, rel=1e-12)
    assert f["amount_to_card_avg_30d"] == pytest.approx(1800 / 245.75, rel=1e-12)
    assert f["card_seconds_since_previous"] == pytest.approx(0.001, abs=1e-9)
    assert (f["merchant_count_1h"], f["merchant_count_24h"]) == (2, 4)
    assert f["card_merchant_country_mismatch"] == 1.0
    assert math.isnan(f["card_ip_country_mismatch"])
    assert (f["local_hour"], f["is_weekend"], f["channel_code"]) == (2, 0, 2)
    assert m.complete[row["eT"]].all()

    first = {name: m.values[row["e1"], FEATURE_INDEX[name]] for name in FEATURE_NAMES}
    for name in ("card_amount_avg_30d", "amount_to_card_avg_30d", "card_seconds_since_previous"):
        assert math.isnan(first[name]), name
    assert (first["local_hour"], first["is_weekend"], first["channel_code"]) == (0, 1, 1)
    assert first["card_merchant_country_mismatch"] == 0.0

    def complete(event_id: str) -> dict[str, bool]:
        return dict(zip(FEATURE_NAMES, m.complete[row[event_id]].tolist(), strict=True))

    event_only = {
        "amount",
        "card_merchant_country_mismatch",
        "card_ip_country_mismatch",
        "local_hour",
        "is_weekend",
        "channel_code",
    }
    # The very first event: every window reaches before history_since.
    assert {n for n, ok in complete("e1").items() if ok} == event_only
    # One day in: 1 h and 24 h (starting exactly at history_since) complete, 30 d not.
    month_features = {
        "card_count_30d",
        "card_amount_avg_30d",
        "amount_to_card_avg_30d",
        "card_seconds_since_previous",
    }
    assert {n for n, ok in complete("e2").items() if not ok} == month_features
    # The 30-day window starts 1 ms before history_since for e4, exactly at it for e5.
    assert {n for n, ok in complete("e4").items() if not ok} == month_features
    assert all(complete("e5").values())


# --- (d) property: the script equals a plain recomputation -----------------------------------

GAPS = [0, 0, 0, 1, 999, HOUR - 1, HOUR, HOUR + 1, 7 * HOUR, DAY - 1, DAY, DAY + 1, MONTH - 1, MONTH]


def reference(arrivals: Sequence[Transaction]) -> list[list[float]]:
    """Aggregates recomputed from scratch: first sighting wins, windows are [t − w, t)."""
    seen: dict[str, list[float]] = {}
    recorded: list[Transaction] = []
    since: int | None = None
    out = []
    for e in arrivals:
        if e.event_id in seen:
            out.append(seen[e.event_id])
            continue
        t = e.occurred_ms
        since = t if since is None else since

        def card(window: int, t: int = t, e: Transaction = e) -> list[Transaction]:
            return [r for r in recorded if r.card_id == e.card_id and t - window <= r.occurred_ms < t]

        def merchant(window: int, t: int = t, e: Transaction = e) -> int:
            return sum(
                1 for r in recorded if r.merchant_id == e.merchant_id and t - window <= r.occurred_ms < t
            )

        row: list[float] = []
        for window in (HOUR, DAY, MONTH):
            hits = card(window)
            row += [len(hits), sum(round(r.amount * 10_000) for r in hits)]
        month = card(MONTH)
        row += [max(r.occurred_ms for r in month) if month else math.nan]
        row += [merchant(HOUR), merchant(DAY), since]
        seen[e.event_id] = row
        recorded.append(e)
        out.append(row)
    return out


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Transaction], list[int], int]:
    n = draw(st.integers(1, 24))
    gaps = draw(st.lists(st.sampled_from(GAPS), min_size=n, max_size=n))
    rng = draw(st.randoms(use_true_random=False))
    at = T0_MS
    events = []
    for i, gap in enumerate(gaps):
        at += gap
        events.append(
            tx(
                f"ev{i}",
                at,
                card=draw(st.sampled_from(["c1", "c2", "c3"])),
                merchant=draw(st.sampled_from(["m1", "m2"])),
                amount=draw(st.integers(1, 10**7)) / 100,
            )
        )
    # Shuffle within equal timestamps only: the stream stays in event-time order.
    groups: dict[int, list[Transaction]] = {}
    for e in events:
        groups.setdefault(e.occurred_ms, []).append(e)
    arrivals: list[Transaction] = []
    for key in sorted(groups):
        group = groups[key]
        rng.shuffle(group)
        arrivals += group
    # Redeliveries: copies of some events, anywhere after their first arrival.
    for _ in range(draw(st.integers(0, n))):
        j = rng.randrange(len(arrivals))
        arrivals.insert(rng.randint(j + 1, len(arrivals)), arrivals[j])
    cuts = sorted(rng.sample(range(1, len(arrivals)), rng.randint(0, len(arrivals) - 1)))
    grace = draw(st.sampled_from([0, HOUR]))
    return arrivals, cuts, grace


@pytest.fixture(scope="module")
def module_redis(services):
    client = redis.Redis.from_url(services.redis_url)
    yield client
    client.flushdb()
    client.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=streams())
def test_script_equals_plain_recomputation(module_redis, case):
    arrivals, cuts, grace = case
    module_redis.flushdb()
    store = store_for(module_redis, grace_ms=grace)
    bounds = [0, *cuts, len(arrivals)]
    parts = [arrivals[a:b] for a, b in itertools.pairwise(bounds)]
    got = stream(store, parts)
    want = np.array(reference(arrivals), dtype=float)
    np.testing.assert_array_equal(got, want)
