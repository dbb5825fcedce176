"""The live worker learns from the ``labels`` topic: once per label, across kill -9.

Real broker, real Redis, the real River learner. After the labels are learned
the worker's next decisions blend with the online model and name its version.
"""

from __future__ import annotations

import json
import random
import time

import orjson
import pytest
import redis

from contracts.identity import event_ref
from models.learner import OnlineLearner
from simulator import SimulationConfig, simulate
from store.layout import ONLINE_PENDING, ONLINE_STATE
from stream.topics import ensure_topics
from tests.kafka_io import produce, read_topic, wait_until
from tests.worker_proc import WorkerProcess, isolated_settings

pytestmark = pytest.mark.services


def _learned(client: redis.Redis) -> int:
    body = client.get(ONLINE_STATE)
    return 0 if body is None else OnlineLearner.from_state(orjson.loads(body)["learner"]).learned


def test_labels_are_learned_exactly_once_across_kill_9(services, worker_settings, tmp_path):
    s = isolated_settings(worker_settings, tmp_path, db=8, partitions=2)
    client = redis.Redis.from_url(s.redis)
    client.flushdb()
    ensure_topics(s)
    sim = simulate(SimulationConfig(seed=31, days=6, cards=400, merchants=40))
    records = sim.transactions
    produce(
        s.bootstrap, s.topic_transactions, [(r["card_id"].encode(), json.dumps(r).encode()) for r in records]
    )
    worker = WorkerProcess(s).start()
    read_topic(s.bootstrap, s.topic_scores, 2, until=lambda m: len(m) >= len(records), timeout=120)

    labels = list(sim.labels)
    assert len({lab["event_id"] for lab in labels}) >= 50, "too few labels to test anything"
    # Every label twice (a chargeback feed and an analyst), and one for an event never seen.
    stream = labels + labels + [{**labels[0], "event_id": "evt_never_seen"}]
    random.Random(3).shuffle(stream)
    messages = [(lab["event_id"].encode(), json.dumps(lab).encode()) for lab in stream]
    messages.insert(len(messages) // 2, (b"bad", b'{"event_id": "x", "label": "maybe"}'))  # to dlq
    rng = random.Random(31)
    for part in range(0, len(messages), len(messages) // 4 + 1):
        produce(s.bootstrap, s.topic_labels, messages[part : part + len(messages) // 4 + 1])
        time.sleep(rng.uniform(0.1, 0.8))
        worker.kill9()
        worker.start()

    expected = len({(lab["event_id"], lab["label"]) for lab in labels})
    try:
        wait_until(lambda: _learned(client) >= expected and client.hlen(ONLINE_PENDING) == 1, 90, every=0.5)
    except TimeoutError:
        raise AssertionError(f"learned {_learned(client)} of {expected}\n{worker.tail()}") from None
    time.sleep(2)  # anything learned twice would show up by now
    assert _learned(client) == expected
    never_seen = event_ref(labels[0].get("account_id"), "evt_never_seen")
    assert client.hexists(ONLINE_PENDING, never_seen), "a label for an unknown event is kept"

    # New payments are blended with the online model and say which version.
    later = simulate(SimulationConfig(seed=32, days=1, cards=50, merchants=40)).transactions
    produce(
        s.bootstrap, s.topic_transactions, [(r["card_id"].encode(), json.dumps(r).encode()) for r in later]
    )
    ids = {r["event_id"] for r in later}
    scores = read_topic(
        s.bootstrap, s.topic_scores, 2, until=lambda m: ids <= {x.key().decode() for x in m}, timeout=90
    )
    dlq = read_topic(s.bootstrap, s.topic_dlq, 2, until=lambda m: len(m) >= 1, timeout=30)
    worker.stop()
    # At least once (a kill can come before its offset is committed), never anything else.
    assert {(m.key(), dict(m.headers())["error_class"]) for m in dlq} == {(b"bad", b"schema")}
    decided = [json.loads(m.value()) for m in scores if m.key().decode() in ids]
    assert all(d["model"]["online_version"] is not None for d in decided)
    assert all(d["model"]["batch_probability"] is not None for d in decided)
