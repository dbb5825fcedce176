"""The worker with PostgreSQL as the system of record for decisions (issue 18), under
faults: PostgreSQL killed mid-stream (the worker backs off, loses nothing, catches up) and
Redis lost whole (every decision acknowledged before is still served by the API).
Each test has its own topics, group, Redis and database."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from contracts.settings import Settings
from embedded import EmbeddedServices
from embedded.postgres import EmbeddedPostgres
from simulator import SimulationConfig, simulate
from store.database import upgrade
from stream.topics import ensure_topics
from tests.api.apihelp import bearer, new_key
from tests.kafka_io import produce, wait_until
from tests.worker_proc import WorkerProcess, isolated_settings

pytestmark = pytest.mark.services


def _payments(cards: int, days: float, seed: int) -> list[dict]:
    return simulate(SimulationConfig(seed=seed, days=days, cards=cards, merchants=60)).transactions


def _messages(records: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(r["card_id"].encode(), json.dumps(r).encode()) for r in records]


def _stored(url: str) -> dict[str, int]:
    """Stored records by event id (the simulator's ids are unique across accounts)."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            rows = conn.execute("SELECT event_id, count(*) FROM decisions GROUP BY event_id").fetchall()
    except psycopg.OperationalError:
        return {}
    return {eid: int(n) for eid, n in rows}


def _wait_stored(url: str, ids: set[str], worker: WorkerProcess, timeout: float) -> dict[str, int]:
    try:
        wait_until(lambda: ids <= set(_stored(url)), timeout, every=0.5)
    except TimeoutError:
        missing = len(ids - set(_stored(url)))
        raise AssertionError(f"{missing} events without a stored decision\n{worker.tail()}") from None
    return _stored(url)


def _retries(worker: WorkerProcess) -> float:
    lines = [
        x for x in worker.get("/metrics").text.splitlines() if x.startswith("riskwire_batch_retries_total")
    ]
    return float(lines[0].split()[-1])


def test_postgres_killed_mid_stream_the_worker_backs_off_and_catches_up(
    services: EmbeddedServices, worker_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedPostgres(workdir=tmp_path / "pg") as pg:
        asyncio.run(upgrade(pg.url))
        monkeypatch.setenv("RISKWIRE_DATABASE_URL", pg.url)
        s = isolated_settings(worker_settings, tmp_path, db=0, redis_url=services.redis_url.rsplit("/", 1)[0])
        redis.Redis.from_url(s.redis).flushdb()
        ensure_topics(s)
        records = _payments(cards=400, days=10, seed=19)[:5000]
        worker = WorkerProcess(s).start()
        try:
            pid = worker.proc.pid  # type: ignore[union-attr]
            produce(s.bootstrap, s.topic_transactions, _messages(records[:2000]))
            wait_until(lambda: len(_stored(pg.url)) > 500, 60, every=0.2)
            pg.kill()
            produce(s.bootstrap, s.topic_transactions, _messages(records[2000:]))
            time.sleep(8)
            assert worker.alive(), f"the worker died with its database\n{worker.tail()}"
            pg.restart()
            stored = _wait_stored(pg.url, {r["event_id"] for r in records}, worker, timeout=180)
            assert worker.alive() and worker.proc.pid == pid, "recovered without a restart"  # type: ignore[union-attr]
            assert _retries(worker) > 0, "the outage was noticed and retried"
            assert set(stored.values()) == {1}, "each event stored once"
        finally:
            worker.stop()


def test_redis_lost_whole_every_acknowledged_decision_is_still_served(
    worker_settings: Settings, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis dies and comes back empty (no persistence): the decisions the worker acknowledged
    before, and the review queue, are served by the API from PostgreSQL (with a key made
    after the loss: API keys are still in Redis in this slice)."""
    asyncio.run(upgrade(database_url))
    monkeypatch.setenv("RISKWIRE_DATABASE_URL", database_url)
    with EmbeddedServices(workdir=tmp_path / "redis", with_kafka=False) as own:
        s = isolated_settings(worker_settings, tmp_path, db=0, redis_url=own.redis_url.rsplit("/", 1)[0])
        ensure_topics(s)
        records = _payments(cards=200, days=5, seed=23)[:1500]
        worker = WorkerProcess(s).start()
        try:
            produce(s.bootstrap, s.topic_transactions, _messages(records))
            _wait_stored(database_url, {r["event_id"] for r in records}, worker, timeout=120)
        finally:
            worker.stop()
        own.stop_redis()
        own.start_redis()  # empty
        assert redis.Redis.from_url(s.redis).dbsize() == 0
        from api.main import create_app

        api_settings = s.model_copy(update={"database_url": SecretStr(database_url)})
        _, secret = new_key(api_settings, "admin")
        sample = records[:: len(records) // 50]
        with TestClient(create_app(api_settings)) as api:
            for r in sample:
                got = api.get(f"/v1/decisions/{r['event_id']}", headers=bearer(secret))
                assert got.status_code == 200, got.text
                assert got.json()["event_id"] == r["event_id"]
            page = api.get("/v1/decisions", params={"limit": 10}, headers=bearer(secret))
            assert page.status_code == 200 and len(page.json()["items"]) == 10, page.text
            queue = api.get("/v1/reviews", params={"limit": 200}, headers=bearer(secret))
            assert queue.status_code == 200, queue.text
            listed = {item["event_id"] for item in queue.json()["items"]}
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT event_id FROM decisions WHERE decision = 'review'").fetchall()
        assert listed == {r[0] for r in rows} and listed, "the review queue outlived Redis"
