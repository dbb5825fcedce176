"""`riskwire replay` gives the live worker's scores for the same events."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from contracts.identity import event_ref
from contracts.records import Transaction
from explain.risk_score import RiskPolicy
from features.memory_store import MemoryFeatureStore
from models.batch_model import BatchModel
from models.loading import ModelRegistry
from pipeline.live_state import LiveState
from pipeline.replay import replay
from pipeline.scoring import ScoringPipeline
from simulator import SimulationConfig, simulate
from store.decisions import DecisionStore
from store.feature_state import OnlineFeatureStore
from store.layout import decision_key
from stream.topics import ensure_topics
from tests.kafka_io import produce, read_topic
from tests.worker_proc import WorkerProcess, isolated_settings

pytestmark = pytest.mark.services


async def _replay(records: list[dict], settings, url: str, in_memory: bool = False) -> dict[str, dict]:
    client = aioredis.Redis.from_url(url)
    grace_ms = settings.late_grace_s * 1000
    features = (
        MemoryFeatureStore(grace_ms=grace_ms)
        if in_memory
        else OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=grace_ms)
    )
    pipeline = ScoringPipeline(
        features=features,
        decisions=DecisionStore(client, ttl_s=3600),
        live=LiveState(BatchModel(ModelRegistry(settings.model_dir).load())),
        policy=RiskPolicy(  # the worker's: its levels and the model's review-capacity policy
            elevated=settings.elevated_threshold,
            highest=settings.highest_threshold,
            capacity=settings.review_capacity_policy,
        ),
    )
    txs = [Transaction.model_validate(r) for r in records]
    out = {}
    async for body in replay(reversed(txs), pipeline, batch=97):  # any input order
        record = orjson.loads(body)
        out[record["event_id"]] = record
    await client.aclose()
    return out


def test_replay_matches_the_live_worker(services, worker_settings, tmp_path):
    # One partition: the worker sees the events in publish (= event-time) order.
    s = isolated_settings(worker_settings, tmp_path, db=6, partitions=1)
    redis.Redis.from_url(s.redis).flushdb()
    replay_url = s.redis.rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(replay_url).flushdb()
    ensure_topics(s)
    records = simulate(SimulationConfig(seed=21, days=4, cards=300, merchants=30)).transactions
    worker = WorkerProcess(s).start()
    produce(
        s.bootstrap, s.topic_transactions, [(r["card_id"].encode(), json.dumps(r).encode()) for r in records]
    )
    scores = read_topic(s.bootstrap, s.topic_scores, 1, until=lambda m: len(m) >= len(records))
    worker.stop()
    live = {m.key().decode(): json.loads(m.value()) for m in scores}

    replayed = asyncio.run(_replay(records, s, replay_url))
    redis.Redis.from_url(replay_url).flushdb()
    # `riskwire replay` without --redis-url keeps the features in memory: the same values.
    in_memory = asyncio.run(_replay(records, s, replay_url, in_memory=True))
    assert in_memory.keys() == replayed.keys()
    for event_id, record in in_memory.items():
        assert record["feature_vector"] == replayed[event_id]["feature_vector"], event_id
        assert record["risk_score"] == replayed[event_id]["risk_score"], event_id
    worker_store = redis.Redis.from_url(s.redis)
    assert set(replayed) == set(live) == {r["event_id"] for r in records}
    for event_id, record in live.items():
        again = replayed[event_id]
        assert again["risk_score"] == record["risk_score"], event_id
        assert again["probability"] == record["probability"], event_id
        # Replay writes the stored record (features included); the topic's is the same, lean.
        stored = orjson.loads(worker_store.get(decision_key(event_ref(record.get("account_id"), event_id))))
        assert again["feature_vector"] == stored["feature_vector"], event_id
        assert "feature_vector" not in record
        assert again["explained"] == record["explained"] == (record["decision"] != "allow"), (
            event_id,
            again["decision"],
            record["decision"],
            again["explained"],
            record["explained"],
        )
        assert [r["text"] for r in again["reasons"]] == [r["text"] for r in record["reasons"]]
