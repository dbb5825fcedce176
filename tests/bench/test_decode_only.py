"""The decode-only agent consumes exactly as the worker does (no services: apps are only built)."""

from __future__ import annotations

from pathlib import Path

from bench import decode_only
from contracts.settings import Settings
from stream import app as worker
from stream.transport import LowLatencyApp

SAME = (
    "broker",
    "broker_commit_interval",
    "broker_session_timeout",
    "broker_heartbeat_interval",
    "broker_max_poll_records",
    "broker_max_poll_interval",
    "consumer_max_fetch_size",
    "consumer_auto_offset_reset",
    "topic_partitions",
    "stream_buffer_maxsize",
    "value_serializer",
    "key_serializer",
)


def test_decode_only_takes_the_workers_consumer_settings(tmp_path: Path) -> None:
    settings = Settings(
        kafka_bootstrap="127.0.0.1:9",
        redis_url="redis://127.0.0.1:9/0",
        var_dir=tmp_path,
        model_dir=tmp_path / "models",
        batch_max_events=123,
    )
    theirs = worker.create_app(settings)
    ours = decode_only.create_app(settings, "out")
    assert isinstance(ours, LowLatencyApp) and type(ours) is type(theirs)
    for name in SAME:
        assert getattr(ours.conf, name) == getattr(theirs.conf, name), name
    assert ours.conf.id != theirs.conf.id  # its own consumer group: it reads the same waiting payments
    assert [a.channel.get_topic_name() for a in ours.agents.values()] == [settings.topic_transactions]
