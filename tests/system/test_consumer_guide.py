"""The README's consumers' guide works as printed (issue 15, item 5): its confluent-kafka
example, run against the real broker, hands over each decision once per topic, drift
messages apart (by ``kind``) and dead letters with their headers."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from stream.topics import ensure_topics

pytestmark = pytest.mark.services
README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- consumer-example:[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert match, "the README's consumer example is gone"
    return match.group(1)


def test_the_readme_consumer_example_deduplicates_and_separates_drift_and_dead_letters(
    services, worker_settings
):
    # The default topic names are the session worker's: create them as it does (its partition
    # count), or its tests would read half of a topic made here with the default four.
    ensure_topics(worker_settings)
    run = uuid.uuid4().hex[:8]
    a = {"event_id": f"{run}-a", "account_id": "acct", "decision": "allow", "risk_score": 3}
    b = {"event_id": f"{run}-b", "decision": "block", "risk_score": 91}
    drift = {"kind": "drift", "detector": f"psi:amount-{run}", "reported_at": "2026-01-01T00:00:00Z"}
    producer = Producer({"bootstrap.servers": services.kafka_bootstrap})
    for topic, key, value in [
        ("scores", a["event_id"], a),
        ("scores", a["event_id"], a),  # a redelivery
        ("scores", b["event_id"], b),
        ("alerts", b["event_id"], b),
        ("alerts", "drift", drift),
    ]:
        producer.produce(topic, key=key.encode(), value=json.dumps(value).encode())
    headers = [("error", b"not JSON"), ("error_class", b"schema"), ("source_topic", b"transactions")]
    producer.produce("dlq", key=run.encode(), value=f"{run} garbage".encode(), headers=headers)
    assert producer.flush(10) == 0

    namespace: dict = {}
    exec(_example(), namespace)
    decisions, drifts, dead = [], [], []
    deadline = time.monotonic() + 60

    complete_at: list[float] = []

    def done() -> bool:
        # Once everything arrived, read on for 3 s: a duplicate handed over would show.
        if not complete_at and len(decisions) >= 3 and drifts and dead:
            complete_at.append(time.monotonic())
        return bool(complete_at and time.monotonic() > complete_at[0] + 3) or time.monotonic() > deadline

    namespace["consume"](
        services.kafka_bootstrap,
        f"guide-{run}",
        lambda topic, record: (
            decisions.append((topic, record["event_id"])) if record["event_id"].startswith(run) else None
        ),
        lambda record: drifts.append(record) if record["detector"].endswith(run) else None,
        lambda error_class, error, value: (
            dead.append((error_class, error)) if value.startswith(run.encode()) else None
        ),
        stop=done,
    )
    assert sorted(decisions) == [
        ("alerts", b["event_id"]),
        ("scores", a["event_id"]),
        ("scores", b["event_id"]),
    ]
    assert [d["detector"] for d in drifts] == [drift["detector"]]
    assert dead == [("schema", "not JSON")]
