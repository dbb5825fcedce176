"""Rules stored in Redis reach a running worker without a restart, and every decision
records the rules that matched it."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis
import redis.asyncio as aioredis

from simulator import SimulationConfig, simulate
from store.rules import RuleStore
from stream.topics import ensure_topics
from tests.kafka_io import produce, read_topic
from tests.worker_proc import WorkerProcess, isolated_settings

pytestmark = pytest.mark.services


async def _install_rules(url: str, trusted: str) -> None:
    client = aioredis.Redis.from_url(url)
    store = RuleStore(client)
    await store.create_list("trusted_cards")
    await store.add_list_items("trusted_cards", [trusted])
    await store.create_rule("block if :amount: > 0")
    await store.create_rule("allow if :card_id: in @trusted_cards")
    await client.aclose()


def test_rule_changes_reach_a_running_worker(services, worker_settings, tmp_path):
    s = isolated_settings(worker_settings, tmp_path, db=10, partitions=1)
    redis.Redis.from_url(s.redis).flushdb()
    ensure_topics(s)
    records = simulate(SimulationConfig(seed=51, days=2, cards=100, merchants=20)).transactions[:400]
    before, after = records[:200], records[200:]
    worker = WorkerProcess(s).start()
    produce(
        s.bootstrap, s.topic_transactions, [(r["card_id"].encode(), json.dumps(r).encode()) for r in before]
    )
    read_topic(s.bootstrap, s.topic_scores, 1, until=lambda m: len(m) >= len(before))

    trusted = after[0]["card_id"]
    asyncio.run(_install_rules(s.redis, trusted))
    time.sleep(1.5)  # workers look for rule changes at most once a second
    produce(
        s.bootstrap, s.topic_transactions, [(r["card_id"].encode(), json.dumps(r).encode()) for r in after]
    )
    scores = read_topic(s.bootstrap, s.topic_scores, 1, until=lambda m: len(m) >= len(records))
    assert worker.alive()
    worker.stop()
    decisions = {m.key().decode(): json.loads(m.value()) for m in scores}
    for r in before:
        assert decisions[r["event_id"]]["rules"] == []
    for r in after:
        d = decisions[r["event_id"]]
        if r["card_id"] == trusted:
            # Radar's precedence: an allow rule beats a block rule; both are recorded.
            assert d["decision"] == "allow", d
            assert d["rules"] == ["allow if :card_id: in @trusted_cards", "block if :amount: > 0"]
        else:
            assert d["decision"] == "block" and d["rules"] == ["block if :amount: > 0"], d
    alerts = read_topic(s.bootstrap, s.topic_alerts, 1, until=lambda m: True, timeout=5)
    blocked = {r["event_id"] for r in after if r["card_id"] != trusted}
    assert blocked <= {m.key().decode() for m in alerts}, "rule blocks are alerts too"
