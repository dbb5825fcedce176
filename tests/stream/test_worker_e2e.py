"""The whole path on real services: plain Kafka producer → worker → scores/alerts/dlq → API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from contracts.records import Decision, PublishedDecision
from contracts.settings import Settings
from features.catalogue import FEATURE_NAMES
from store.key_admin import create_key
from tests.kafka_io import produce, read_topic

pytestmark = pytest.mark.services


def _tx(run: str, i: int, **extra: object) -> dict[str, object]:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(seconds=7 * i)
    return {
        "event_id": f"{run}-{i}",
        "occurred_at": at.isoformat(),
        "amount": round(5 + (i * 37) % 400 + 0.5, 2),
        "currency": "EUR",
        "card_id": f"{run}-card-{i % 17}",
        "merchant_id": f"m-{i % 5}",
        "card_country": "FR",
        "merchant_country": "FR" if i % 4 else "US",
        "channel": "ecom",
        **extra,
    }


def test_every_transaction_gets_exactly_one_decision_and_the_api_serves_it(worker, worker_settings: Settings):
    s = worker_settings
    run = uuid.uuid4().hex[:8]
    txs = [_tx(run, i) for i in range(300)]
    produce(s.bootstrap, s.topic_transactions, ((t["card_id"].encode(), json.dumps(t).encode()) for t in txs))

    ids = {t["event_id"] for t in txs}

    def mine(msgs):
        return [m for m in msgs if m.key() and m.key().decode().startswith(run)]

    scores = mine(
        read_topic(s.bootstrap, s.topic_scores, s.topic_partitions, until=lambda m: len(mine(m)) >= len(ids))
    )
    keys = [m.key().decode() for m in scores]
    assert sorted(keys) == sorted(ids), "exactly one decision per transaction"
    records = {m.key().decode(): PublishedDecision.model_validate_json(m.value()) for m in scores}
    for event_id, d in records.items():
        assert d.event_id == event_id
        assert 0 <= d.risk_score <= 100
        assert d.model.batch_version
        assert d.feature_vector is None, "the topics carry lean records by default"
        assert len(next(m.value() for m in scores if m.key().decode() == event_id)) <= 1500
        # Alerts carry their reasons; an allowed payment's are computed by the API on demand.
        assert d.explained == (d.decision.value != "allow")
        if not d.explained:
            assert d.reasons == []
        raising = [r for r in d.reasons if r.contribution > 0]
        lowering = [r for r in d.reasons if r.contribution < 0]
        assert len(raising) <= 3 and len(lowering) <= 2
        assert d.reasons == raising + lowering, "what raised the risk comes first"
        assert all(r.text for r in d.reasons)

    alerts = mine(
        read_topic(s.bootstrap, s.topic_alerts, s.topic_partitions, until=lambda m: True, timeout=5)
    )
    expected_alerts = {k for k, d in records.items() if d.decision.value in ("review", "block")}
    assert expected_alerts, "rapid repeat payments should raise some alerts at the test thresholds"
    assert {m.key().decode() for m in alerts} == expected_alerts

    with TestClient(create_app(s)) as client:
        client.headers["Authorization"] = f"Bearer {create_key(s, 'analyst', name='e2e')[1]}"
        allowed = [k for k, d in records.items() if not d.explained][:20]
        for event_id in sorted(expected_alerts)[:10] + allowed + [f"{run}-299"]:
            got = client.get(f"/v1/decisions/{event_id}")
            assert got.status_code == 200
            served = Decision.model_validate(got.json())
            published = json.loads(next(m.value() for m in scores if m.key().decode() == event_id))
            assert list(served.features) == list(FEATURE_NAMES)
            assert served.explained and served.reasons and all(r.text for r in served.reasons)
            rest = {k: v for k, v in got.json().items() if k not in ("features", "reasons", "explained")}
            assert rest == {k: v for k, v in published.items() if k not in ("reasons", "explained")}
            if published["explained"]:
                assert got.json()["reasons"] == published["reasons"]
        # Later payments on a card see the earlier ones.
        last = client.get(f"/v1/decisions/{run}-299").json()
        assert last["features"]["card_count_24h"]["value"] == 17
        missing = client.get(f"/v1/decisions/{run}-unknown")
        assert missing.status_code == 404
        assert "no decision" in missing.json()["detail"]


def test_malformed_messages_go_to_dlq_once_with_reasons_and_the_worker_keeps_going(worker, worker_settings):
    s = worker_settings
    run = uuid.uuid4().hex[:8]
    bad = {
        f"{run}-bad-json": b"{not json",
        f"{run}-bad-utf8": b"\xff\xfe\x00garbage",
        f"{run}-no-amount": json.dumps({k: v for k, v in _tx(run, 1).items() if k != "amount"}).encode(),
        f"{run}-negative": json.dumps(_tx(run, 2, amount=-3.5)).encode(),
        f"{run}-wrong-type": json.dumps(_tx(run, 3, amount="12.00", card_id=7)).encode(),
        f"{run}-naive-time": json.dumps(_tx(run, 4, occurred_at="2026-03-01T12:00:00")).encode(),
        f"{run}-too-big": json.dumps(_tx(run, 5, attributes={"blob": "x" * 70_000})).encode(),
        f"{run}-future": json.dumps(_tx(run, 6, occurred_at="2099-01-01T00:00:00+00:00")).encode(),
    }
    good = [_tx(run, i) for i in range(10, 60)]
    stream: list[tuple[bytes, bytes]] = []
    for i, t in enumerate(good):
        stream.append((str(t["card_id"]).encode(), json.dumps(t).encode()))
        if i < len(bad):
            key = list(bad)[i]
            stream.append((key.encode(), bad[key]))
    produce(s.bootstrap, s.topic_transactions, stream)

    def mine(msgs):
        return [m for m in msgs if m.key() and m.key().decode().startswith(run)]

    dlq = mine(
        read_topic(s.bootstrap, s.topic_dlq, s.topic_partitions, until=lambda m: len(mine(m)) >= len(bad))
    )
    by_key = {}
    for m in dlq:
        assert m.key().decode() not in by_key, "each malformed message lands on dlq once"
        by_key[m.key().decode()] = m
    assert set(by_key) == set(bad)
    for key, m in by_key.items():
        headers = {k: v.decode() for k, v in m.headers()}
        assert m.value() == bad[key], "the original bytes are kept"
        assert headers["source_topic"] == s.topic_transactions
        assert int(headers["source_offset"]) >= 0 and int(headers["source_partition"]) >= 0
        assert headers["error"] and headers["error_class"]
    reasons = {k.removeprefix(f"{run}-"): {h: v.decode() for h, v in m.headers()} for k, m in by_key.items()}
    assert reasons["bad-json"]["error_class"] == "json"
    assert reasons["bad-utf8"]["error_class"] == "encoding"
    assert "amount" in reasons["no-amount"]["error"] and "required" in reasons["no-amount"]["error"].lower()
    assert "greater than 0" in reasons["negative"]["error"]
    assert "card_id" in reasons["wrong-type"]["error"] and "amount" in reasons["wrong-type"]["error"]
    assert "timezone" in reasons["naive-time"]["error"]
    assert reasons["too-big"]["error_class"] == "size"
    assert reasons["future"]["error_class"] == "future_timestamp"

    good_ids = {t["event_id"] for t in good}
    scores = read_topic(
        s.bootstrap,
        s.topic_scores,
        s.topic_partitions,
        until=lambda m: good_ids <= {x.key().decode() for x in m},
    )
    scored_ids = [m.key().decode() for m in scores if m.key().decode() in good_ids]
    assert sorted(scored_ids) == sorted(good_ids)
    assert worker.alive(), worker.tail()


def test_health_and_metrics_report_the_work_done(worker, worker_settings):
    health = worker.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    text = worker.get("/metrics").text
    scored = [
        line for line in text.splitlines() if line.startswith('riskwire_events_total{outcome="scored"}')
    ]
    assert scored and float(scored[0].split()[-1]) > 0
    assert 'riskwire_dead_letters_total{error_class="json"}' in text
    assert "riskwire_end_to_end_seconds_bucket" in text
    assert "riskwire_model_info{batch_version=" in text
