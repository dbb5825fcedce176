"""POST /v1/score: the worker's pipeline behind the API."""

from __future__ import annotations

import json
import time

import orjson
import redis
from fastapi.testclient import TestClient

from api.main import create_app
from contracts.identity import event_ref
from contracts.records import Decision
from pipeline.live_state import SHADOW_CHECK_S
from pipeline.record_shapes import expand_features
from simulator import SimulationConfig, simulate
from store.layout import decision_key
from stream.topics import ensure_topics
from tests.api.apihelp import bearer, new_key
from tests.kafka_io import produce, read_topic
from tests.worker_proc import WorkerProcess, isolated_settings


def _tx(event_id: str, **extra):
    return {
        "event_id": event_id,
        "occurred_at": "2026-03-01T12:00:00+01:00",
        "amount": 120.0,
        "currency": "EUR",
        "card_id": "card-1",
        "merchant_id": "m-1",
        **extra,
    }


def test_scores_one_or_many_and_stores_the_record(client, key):
    service, analyst = key("service"), key("analyst")
    one = client.post("/v1/score", headers=service, json=_tx("e1"))
    assert one.status_code == 200, one.text
    [record] = one.json()
    assert Decision.model_validate(record).event_id == "e1"
    assert client.get("/v1/decisions/e1", headers=analyst).json() == record

    many = client.post(
        "/v1/score",
        headers=service,
        json=[_tx("e2"), _tx("e3", occurred_at="2026-03-01T12:05:00+01:00"), _tx("e2")],
    )
    assert many.status_code == 200, many.text
    got = many.json()
    assert [r["event_id"] for r in got] == ["e2", "e3", "e2"]
    assert got[0] == got[2], "a repeated event id gets the same record"
    assert got[1]["features"]["card_count_1h"]["value"] == 2, "e3 sees e1 and e2 on the same card"
    again = client.post("/v1/score", headers=service, json=_tx("e1", amount=999.0))
    assert again.json() == [record], "the first record of an event is the only one"


def test_bad_input_and_limits(client, key, api_settings):
    service = key("service")
    assert client.post("/v1/score", headers=service, json=_tx("x", amount=-1)).status_code == 422
    assert client.post("/v1/score", headers=service, json=[]).status_code == 422
    future = client.post("/v1/score", headers=service, json=_tx("x", occurred_at="2099-01-01T00:00:00Z"))
    assert future.status_code == 422 and "future" in future.json()["detail"]
    too_many = [_tx(f"b{i}") for i in range(api_settings.api_score_batch_max + 1)]
    assert client.post("/v1/score", headers=service, json=too_many).status_code == 422


def test_account_keys_score_only_their_account(client, key):
    acme, globex = key("service", "acme"), key("service", "globex")
    mine = client.post("/v1/score", headers=acme, json=_tx("a1"))
    assert mine.status_code == 200
    other = client.post("/v1/score", headers=acme, json=_tx("a2", account_id="globex"))
    assert other.status_code == 403
    # globex's a1 is globex's own payment: scored, stored apart, never acme's record.
    theirs = client.post("/v1/score", headers=globex, json=_tx("a1", amount=777.0))
    assert theirs.status_code == 200 and theirs.json()[0]["account_id"] == "globex"
    assert theirs.json()[0]["features"]["amount"]["value"] == 777.0
    acme_view = client.get("/v1/decisions/a1", headers=key("analyst", "acme")).json()
    globex_view = client.get("/v1/decisions/a1", headers=key("analyst", "globex")).json()
    assert (acme_view["account_id"], globex_view["account_id"]) == ("acme", "globex")
    assert acme_view == mine.json()[0] and globex_view == theirs.json()[0]
    # A key that sees every account must say which a1 it means.
    ambiguous = client.get("/v1/decisions/a1", headers=key("analyst"))
    assert ambiguous.status_code == 409 and "account_id" in ambiguous.json()["detail"]
    chosen = client.get("/v1/decisions/a1", headers=key("analyst"), params={"account_id": "globex"})
    assert chosen.json() == globex_view


def test_no_model_means_503_and_not_ready(api_settings, tmp_path):
    settings = api_settings.model_copy(update={"model_dir": tmp_path / "empty"})
    with TestClient(create_app(settings)) as client:
        service = bearer(new_key(settings, "service")[1])
        got = client.post("/v1/score", headers=service, json=_tx("n1"))
        assert got.status_code == 503 and "riskwire train" in got.json()["detail"]
        assert client.get("/readyz").status_code == 503


def test_same_scores_as_the_worker_for_the_same_history(api_settings, worker_settings, tmp_path):
    s = isolated_settings(worker_settings, tmp_path, db=8, partitions=1)
    redis.Redis.from_url(s.redis).flushdb()
    ensure_topics(s)
    records = simulate(SimulationConfig(seed=31, days=2, cards=150, merchants=20)).transactions[:600]
    worker = WorkerProcess(s).start()
    produce(
        s.bootstrap, s.topic_transactions, [(r["card_id"].encode(), json.dumps(r).encode()) for r in records]
    )
    scores = read_topic(s.bootstrap, s.topic_scores, 1, until=lambda m: len(m) >= len(records))
    worker.stop()
    live = {m.key().decode(): json.loads(m.value()) for m in scores}

    with TestClient(create_app(api_settings)) as client:
        service = bearer(new_key(api_settings, "service")[1])
        synced = {}
        for i in range(0, len(records), 50):
            answer = client.post("/v1/score", headers=service, json=records[i : i + 50])
            assert answer.status_code == 200, answer.text
            synced.update({r["event_id"]: r for r in answer.json()})
    assert set(synced) == set(live)
    for event_id, record in live.items():
        assert synced[event_id]["risk_score"] == record["risk_score"], event_id
        assert synced[event_id]["probability"] == record["probability"], event_id
        # The topics carry lean records; the worker's stored record has the features.
        assert "features" not in record and "feature_vector" not in record
        stored_key = decision_key(event_ref(record.get("account_id"), event_id))
        stored = orjson.loads(redis.Redis.from_url(s.redis).get(stored_key))
        assert synced[event_id]["features"] == expand_features(stored), event_id
        if record["explained"]:
            assert synced[event_id]["reasons"] == record["reasons"], event_id
        assert synced[event_id]["explained"] is True


def test_follows_promotions_and_the_shadow_pointer_like_the_worker(api_settings, candidate_registry):
    settings = api_settings.model_copy(update={"model_dir": candidate_registry.root})
    first = candidate_registry.current()
    with TestClient(create_app(settings)) as client:
        service = bearer(new_key(settings, "service")[1])
        [before] = client.post("/v1/score", headers=service, json=_tx("f1")).json()
        assert before["model"]["batch_version"] == first and before.get("shadow") is None
        candidate_registry.set_shadow(first)
        candidate_registry.promote("v2-candidate")
        time.sleep(SHADOW_CHECK_S + 0.2)  # both are looked at every 2 s
        [after] = client.post("/v1/score", headers=service, json=_tx("f2")).json()
        assert after["model"]["batch_version"] == "v2-candidate"
        assert after["shadow"]["version"] == first
        assert client.get("/readyz").json()["model"] == "v2-candidate"
