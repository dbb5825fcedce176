"""Stopping and health of the worker under outages, against the real broker and Redis
(issue 15, item 3; issue 14, item 6): SIGTERM ends it within 10 s even while Redis or
Kafka is down, without committing the unfinished batch; /healthz turns 503; the lag is
measured against the committed offset; a missing var dir is created; it listens only
on loopback."""

from __future__ import annotations

import ipaddress
import json
import signal
import time

import psutil
import pytest
import redis
from confluent_kafka import Consumer, TopicPartition

from embedded import EmbeddedServices
from simulator import SimulationConfig, simulate
from stream.topics import ensure_topics
from tests.kafka_io import produce, wait_until
from tests.worker_proc import WorkerProcess, isolated_settings

pytestmark = pytest.mark.services
STOP_WITHIN_S = 10.0


def _messages(n: int, seed: int) -> list[tuple[bytes, bytes]]:
    records = simulate(SimulationConfig(seed=seed, days=10, cards=300, merchants=40)).transactions[:n]
    return [(r["card_id"].encode(), json.dumps(r).encode()) for r in records]


def _decided(client: redis.Redis) -> int:
    return sum(1 for _ in client.scan_iter("rw:decision:{*", count=5000))


def _lag(worker: WorkerProcess) -> float:
    lines = worker.get("/metrics").text.splitlines()
    return sum(float(x.split()[-1]) for x in lines if x.startswith("riskwire_consumer_lag_messages{"))


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        consumer.close()


def _sigterm_exit_seconds(worker: WorkerProcess) -> float:
    assert worker.proc is not None
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(STOP_WITHIN_S + 20)
    return time.monotonic() - started


def _listening(pid: int) -> list[tuple[str, int]]:
    conns = psutil.Process(pid).net_connections(kind="inet")
    return [(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]


def test_redis_outage_turns_healthz_503_and_sigterm_ends_the_worker_within_10_s(
    services, worker_settings, tmp_path
):
    with EmbeddedServices(workdir=tmp_path / "redis", with_kafka=False, redis_persistent=True) as own:
        s = isolated_settings(worker_settings, tmp_path, db=0, redis_url=own.redis_url.rsplit("/", 1)[0])
        # A var dir that does not exist yet: the worker creates it (Faust alone died here).
        s = s.model_copy(update={"var_dir": tmp_path / "not" / "yet" / "there", "worker_stall_after_s": 3.0})
        client = redis.Redis.from_url(s.redis)
        ensure_topics(s)
        messages = _messages(3000, seed=21)
        assert len(messages) > 2000
        worker = WorkerProcess(s, log_dir=tmp_path).start()
        assert (s.var_dir / "faust").is_dir(), "the missing var dir was created"

        # Loopback only (issue 14, item 6): the web port is there, and nothing else is public.
        listening = _listening(worker.proc.pid)
        assert ("127.0.0.1", worker.web_port) in listening, listening
        public = [(ip, port) for ip, port in listening if not ipaddress.ip_address(ip).is_loopback]
        assert not public, f"non-loopback listening sockets: {public}"

        # The exposition (issue 15, item 6): its content type with the format's version.
        exposed = worker.get("/metrics")
        assert exposed.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "process_resident_memory_bytes" in exposed.text and "_created" not in exposed.text

        produce(s.bootstrap, s.topic_transactions, messages[:1000])
        wait_until(lambda: _decided(client) >= 1000, 60)
        wait_until(lambda: worker.get("/healthz").status_code == 200 and _lag(worker) == 0, 20)

        own.stop_redis()
        produce(s.bootstrap, s.topic_transactions, messages[1000:])
        try:
            wait_until(lambda: worker.get("/healthz").status_code == 503, 30, every=0.5)
        except TimeoutError:
            raise AssertionError(f"/healthz stayed 200 in the outage\n{worker.tail()}") from None
        assert worker.get("/healthz").json()["status"] == "stalled"
        # Measured against the committed offset: the waiting input shows.
        try:
            wait_until(lambda: _lag(worker) == len(messages) - 1000, 10, every=0.5)
        except TimeoutError:
            raise AssertionError(f"lag {_lag(worker)}\n{worker.tail()}") from None

        took = _sigterm_exit_seconds(worker)
        print(f"SIGTERM in a Redis outage: exited in {took:.1f} s, code {worker.proc.returncode}")
        assert took < STOP_WITHIN_S, f"SIGTERM took {took:.1f} s\n{worker.tail()}"
        own.start_redis()
        decided = _decided(client)
        committed = _committed(s.bootstrap, s.app_id, s.topic_transactions, s.topic_partitions)
        # Nothing of the unfinished batch was committed: every committed offset was decided.
        assert 1000 <= committed <= decided < len(messages), (committed, decided)


def test_kafka_outage_sigterm_ends_the_worker_within_10_s(worker_settings, tmp_path):
    with EmbeddedServices(workdir=tmp_path / "kafka", with_redis=False) as own:
        s = isolated_settings(worker_settings, tmp_path, db=6)
        s = s.model_copy(update={"kafka_bootstrap": own.kafka_bootstrap})
        ensure_topics(s)
        worker = WorkerProcess(s).start()
        produce(s.bootstrap, s.topic_transactions, _messages(300, seed=22))
        time.sleep(2)
        own._kafka.stop()  # the broker goes away under the running worker
        time.sleep(3)
        took = _sigterm_exit_seconds(worker)
        print(f"SIGTERM in a Kafka outage: exited in {took:.1f} s, code {worker.proc.returncode}")
        assert took < STOP_WITHIN_S, f"SIGTERM took {took:.1f} s\n{worker.tail()}"
