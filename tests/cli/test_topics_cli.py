"""`riskwire topics create` against the real broker: partitions from settings, idempotent."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]


def test_topics_create_makes_the_five_topics_once_with_the_settings_partitions(services):
    run = uuid.uuid4().hex[:6]
    names = {k: f"{run}-{k.lower()}" for k in ("TRANSACTIONS", "LABELS", "SCORES", "ALERTS", "DLQ")}
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RISKWIRE_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "RISKWIRE_TOPIC_PARTITIONS": "3",
        **{f"RISKWIRE_TOPIC_{k}": v for k, v in names.items()},
    }

    def create() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cli", "topics", "create"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = create()
    assert "5 created (3 partitions, replication 1)" in first
    topics = AdminClient({"bootstrap.servers": services.kafka_bootstrap}).list_topics(timeout=10).topics
    for name in names.values():
        assert len(topics[name].partitions) == 3, name
    again = create()
    assert "0 created" in again and all(f"{n}: exists" in again for n in names.values())
