"""The feature store on a real 3-master Redis Cluster gives the values of one Redis.

Same history, same labels, same batches: the raw aggregates on the cluster equal those
of the in-memory twin (which equals a single node, ``tests/features/test_features.py``), a
redelivery returns the first values, a crash between the steps is repaired, and two
workers racing on one merchant count each payment once.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncCluster
from redis.cluster import RedisCluster

from features.aggregates import format_aggregates
from features.offline import OfflineFeatureEngine
from store.feature_protocol import record_steps
from store.feature_state import OnlineFeatureStore, SyncOnlineFeatureStore
from tests.features.test_features import DAY, DEDUPE_TTL_S, GRACE_MS, T, batches, synthetic_labels, tx
from tests.store.test_feature_store_races import _positions, _probe, _run_steps

pytestmark = pytest.mark.services


@pytest.fixture()
def cluster_client(redis_cluster):  # type: ignore[no-untyped-def]
    redis_cluster.flushall(scripts=True)
    client = RedisCluster.from_url(redis_cluster.url)
    yield client
    client.close()


def _store(client) -> SyncOnlineFeatureStore:  # type: ignore[no-untyped-def]
    return SyncOnlineFeatureStore(client, dedupe_ttl_s=DEDUPE_TTL_S, grace_ms=GRACE_MS)


def test_cluster_features_equal_the_twin_with_labels(cluster_client, redis_cluster, small_history):
    txs, _, fraud_ids = small_history
    txs = txs[:4000]
    labels = synthetic_labels(txs, fraud_ids, seed=3)
    store, engine = _store(cluster_client), OfflineFeatureEngine(grace_ms=GRACE_MS)
    done = 0
    online: list[str] = []
    offline: list[str] = []
    for part in batches(txs):
        horizon = part[-1].occurred_ms + DAY
        due = [lab for lab in labels[done:] if lab.reported_at.timestamp() * 1000 <= horizon]
        done += len(due)
        assert store.record_labels(due) == engine.record_labels(due)
        online += store.raw(part)
        offline += engine.record_and_fetch(part)
    assert [i for i, (a, b) in enumerate(zip(online, offline, strict=True)) if a != b][:3] == []
    # The keys did spread over the three masters.
    sizes = {node.name: node.redis_connection.dbsize() for node in cluster_client.get_primaries()}
    assert len(sizes) == 3 and all(n > 100 for n in sizes.values()), sizes

    # Redelivered through the async client: the first values, nothing written.
    async def again() -> list[str]:
        client = AsyncCluster.from_url(redis_cluster.url)
        try:
            store_a = OnlineFeatureStore(client, dedupe_ttl_s=DEDUPE_TTL_S, grace_ms=GRACE_MS)
            return format_aggregates(await store_a.record_and_fetch(txs[:1500]))
        finally:
            await client.aclose()

    assert asyncio.run(again()) == online[:1500]


@pytest.mark.parametrize("round_trips", [2, 3], ids=["after-guards", "half-the-states"])
def test_a_batch_interrupted_on_the_cluster_is_repaired_by_its_redelivery(cluster_client, round_trips):
    """From an empty store: the history start is written with the first results."""
    batch = [tx(f"b{i}", T + i * 1000, card="ca", merchant="shared", device_id="d1") for i in range(40)]
    where = _positions(2, 500, len(batch))
    store = _store(cluster_client)
    expected = OfflineFeatureEngine(grace_ms=GRACE_MS).record_and_fetch(batch)
    _run_steps(store, record_steps(store._cfg, batch, where), round_trips=round_trips, last_part=0.5)
    assert format_aggregates(store.record_and_fetch(batch, where)) == expected
    assert store.raw(batch) == expected  # without positions: the first results, stored
    probe = OfflineFeatureEngine(grace_ms=GRACE_MS)
    probe.record_and_fetch(batch)
    assert _probe(store, T + DAY // 24) == probe.peek(
        [
            tx("probe-m", T + DAY // 24, card="nobody", merchant="shared"),
            *(tx(f"probe-{c}", T + DAY // 24, card=c, merchant="elsewhere") for c in ("ca", "cb")),
        ]
    )
