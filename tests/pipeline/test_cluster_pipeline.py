"""The whole scoring pipeline (features, model, rules, decision store and its indexes) on a
3-master Redis Cluster gives the same decisions as on one Redis, and label learning runs
there too: what ``RISKWIRE_REDIS_CLUSTER=true`` means for the worker and ``riskwire replay``."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from contracts.records import Label, Transaction
from contracts.settings import Settings
from pipeline.factory import build_label_learning, build_pipeline
from pipeline.replay import replay
from simulator import SimulationConfig, simulate
from store.connect import async_client
from store.decisions import DecisionStore
from store.layout import INDEX_ALL
from store.online_checkpoint import OnlineCheckpoint

pytestmark = pytest.mark.services


def _run(settings: Settings, txs: list[Transaction], labels: list[Label]) -> tuple[dict[str, Any], int, int]:
    async def main() -> tuple[dict[str, Any], int, int]:
        client = async_client(settings)
        try:
            pipeline = build_pipeline(settings, client, online=True)
            learning = build_label_learning(settings, client)
            out = {}
            async for body in replay(txs, pipeline, labels=labels, learning=learning, batch=64):
                record = orjson.loads(body)
                out[record["event_id"]] = record
            # Redelivered: every record comes back as stored, nothing is indexed twice.
            again, _report = await pipeline.score(txs[:100])
            assert all(orjson.loads(s.body) == out[s.event_id] for s in again)
            page = await DecisionStore(client, ttl_s=settings.decision_ttl_s).scan(
                [INDEX_ALL], {}, limit=10_000, budget=100_000
            )
            learned = (await OnlineCheckpoint(client, seen_ttl_s=60).load()).seq
            return out, len(page.items), learned
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_the_pipeline_on_a_cluster_decides_as_on_one_redis(services, redis_client, redis_cluster, model_dir):
    redis_cluster.flushall()
    sim = simulate(SimulationConfig(seed=5, days=3, cards=120, merchants=20))
    txs = [Transaction.model_validate(t) for t in sim.transactions]
    labels = [Label.model_validate(lab) for lab in sim.labels]
    single = Settings(redis_url=services.redis_url, model_dir=model_dir)
    cluster = Settings(redis_url=redis_cluster.url, redis_cluster=True, model_dir=model_dir)
    on_one, indexed_one, learned_one = _run(single, txs, labels)
    on_cluster, indexed_cluster, learned_cluster = _run(cluster, txs, labels)
    assert on_one.keys() == on_cluster.keys() == {t.event_id for t in txs}
    assert indexed_one == indexed_cluster == len(txs)
    assert learned_one == learned_cluster > 0
    for event_id, record in on_one.items():
        other = on_cluster[event_id]
        assert record["feature_vector"] == other["feature_vector"], event_id
        assert record["risk_score"] == other["risk_score"], event_id
        assert record["decision"] == other["decision"], event_id
