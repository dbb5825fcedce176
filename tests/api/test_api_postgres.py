"""The API with decision records in PostgreSQL (``RISKWIRE_DATABASE_URL``, issue 18): decisions,
searches, reviews (state changes in PostgreSQL too), rule backtests and the audit log, end to
end through the app. The same lean flow as on a Redis Cluster (tests/api/test_api_cluster.py);
the store-level tests (tests/store/test_pg_*.py) cover the cases.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from contracts.identity import load_names
from contracts.records import Transaction
from contracts.settings import Settings
from store.database import LazyPool, upgrade
from store.pg_decisions import PgDecisionStore
from tests.api.apihelp import bearer, create_topic, decision_body, new_key, tx
from tests.kafka_io import read_topic

pytestmark = pytest.mark.services


@pytest.fixture()
def pg_settings(services, redis_client, database_url, model_dir) -> Settings:
    asyncio.run(upgrade(database_url))
    settings = Settings(
        redis_url=services.redis_url,
        database_url=SecretStr(database_url),
        kafka_bootstrap=services.kafka_bootstrap,
        topic_labels=f"labels-{uuid.uuid4().hex[:10]}",
        model_dir=model_dir,
        api_rate_per_s=10_000,
        api_rate_burst=10_000,
    )
    create_topic(settings.bootstrap, settings.topic_labels)
    return settings


@pytest.fixture()
def pg_client(pg_settings) -> Iterator[TestClient]:
    with TestClient(create_app(pg_settings)) as c:
        yield c


def put(settings: Settings, records: Sequence[tuple[Transaction, bytes]]) -> list[bytes]:
    async def run() -> list[bytes]:
        assert settings.database_url is not None
        pool = LazyPool(settings.database_url.get_secret_value())
        try:
            return await PgDecisionStore(pool, names=load_names(settings)).put_new(records)
        finally:
            await pool.close()

    return asyncio.run(run())


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["event_id"] for item in response.json()["items"]]


def test_the_api_works_with_decisions_in_postgresql(pg_client: TestClient, pg_settings: Settings) -> None:
    client, s = pg_client, pg_settings
    assert client.get("/readyz").status_code == 200
    _, admin_secret = new_key(s, "admin")
    admin = bearer(admin_secret)
    made = client.post("/v1/keys", headers=admin, json={"role": "analyst", "account_id": "acme", "name": "a"})
    assert made.status_code == 201, made.text
    analyst = bearer(made.json()["secret"])

    put(
        s,
        [
            (tx(f"r{i}", account="acme", card=f"c{i % 3}"), decision_body(f"r{i}", decision="review"))
            for i in range(12)
        ]
        + [(tx("g1", account="globex"), decision_body("g1"))],
    )
    theirs = decision_body("r1", decision="allow")
    assert put(s, [(tx("r1", account="globex"), theirs)]) == [theirs]  # globex's own r1
    assert len(_ids(client.get("/v1/decisions", headers=admin, params={"limit": 50}))) == 14
    acme = client.get("/v1/decisions", headers=analyst, params={"card_id": "c1", "limit": 2})
    first = _ids(acme)
    assert len(first) == 2 and acme.json()["next_cursor"]
    rest = client.get(
        "/v1/decisions",
        headers=analyst,
        params={"card_id": "c1", "limit": 2, "cursor": acme.json()["next_cursor"]},
    )
    assert sorted(first + _ids(rest)) == ["r1", "r10", "r4", "r7"]
    assert client.get("/v1/decisions/r1", headers=analyst).status_code == 200
    assert client.get("/v1/decisions/g1", headers=analyst).status_code == 404

    assert len(_ids(client.get("/v1/reviews", headers=analyst, params={"limit": 50}))) == 12
    assert client.post("/v1/reviews/r3/assign", headers=analyst).status_code == 200
    closed = client.post("/v1/reviews/r3/close", headers=analyst, json={"outcome": "fraud"})
    assert closed.status_code == 200, closed.text
    assert client.post("/v1/reviews/r3/close", headers=analyst, json={"outcome": "legit"}).status_code == 409
    assert _ids(client.get("/v1/reviews", headers=analyst, params={"status": "closed"})) == ["r3"]
    (label,) = read_topic(s.bootstrap, s.topic_labels, 1, until=lambda m: len(m) >= 1, timeout=20)
    published = json.loads(label.value())
    assert (published["event_id"], published["account_id"]) == ("r3", "acme")

    assert client.post("/v1/lists/vip/items", headers=admin, json={"add": ["c1"]}).status_code == 200
    rule = client.post("/v1/rules", headers=admin, json={"text": "allow if :card_id: in @vip"})
    assert rule.status_code == 201, rule.text
    history = client.get("/v1/rules/history", headers=admin).json()
    assert [h["op"] for h in history][:2] == ["create", "list_add"]
    backtest = client.post("/v1/rules/backtest", headers=admin, json={"text": "review if :amount: > 1"})
    assert backtest.status_code == 200 and backtest.json()["decisions_scanned"] == 14, backtest.text

    assert client.post(f"/v1/keys/{made.json()['id']}/revoke", headers=admin).status_code == 200
    assert client.get("/v1/reviews", headers=analyst).status_code == 401
    actions = [e["action"] for e in client.get("/v1/audit", headers=admin).json()["items"]]
    assert actions[0] == "key.revoke" and {"review.close", "review.assign", "key.create"} <= set(actions)
    assert s.database_url is not None
    with psycopg.connect(s.database_url.get_secret_value()) as conn:
        rows = conn.execute("SELECT action FROM audit ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["review.assign", "review.close"]


def test_postgresql_down_is_503_and_the_api_recovers_when_it_returns(
    services, redis_client, model_dir, tmp_path
) -> None:
    """No state in the API: a restarted PostgreSQL serves the same record again."""
    from embedded.postgres import EmbeddedPostgres

    with EmbeddedPostgres(workdir=tmp_path / "pg") as pg:
        asyncio.run(upgrade(pg.url))
        s = Settings(
            redis_url=services.redis_url,
            database_url=SecretStr(pg.url),
            kafka_bootstrap=services.kafka_bootstrap,
            model_dir=model_dir,
        )
        put(s, [(tx("p1", account="acme"), decision_body("p1"))])
        _, secret = new_key(s, "admin")
        with TestClient(create_app(s)) as client:
            assert client.get("/v1/decisions/p1", headers=bearer(secret)).status_code == 200
            pg.halt()
            down = client.get("/v1/decisions/p1", headers=bearer(secret))
            assert down.status_code == 503 and down.json()["detail"] == "database unavailable", down.text
            pg.restart()
            codes = []
            for _ in range(50):
                codes.append(client.get("/v1/decisions/p1", headers=bearer(secret)).status_code)
                if codes[-1] == 200:
                    break
                time.sleep(0.2)
            assert codes[-1] == 200, codes
