"""The API against a real Redis: lookups, 404s, health and the OpenAPI document.

More in ``tests/api/`` (keys, search, reviews, labels, limits, Schemathesis).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from contracts.identity import event_ref
from contracts.records import Decision, DecisionKind, ModelVersions, RiskLevel
from contracts.settings import Settings
from store.key_admin import create_key
from store.layout import decision_key

pytestmark = pytest.mark.services


def _decision(event_id: str) -> Decision:
    now = datetime(2026, 2, 1, tzinfo=UTC)
    return Decision(
        event_id=event_id,
        occurred_at=now,
        scored_at=now,
        risk_score=80,
        risk_level=RiskLevel.HIGHEST,
        decision=DecisionKind.BLOCK,
        probability=0.8,
        model=ModelVersions(batch_version="v1", batch_weight=1.0),
        reasons=[],
        rules=[],
        features={},
        latency_ms=1.5,
    )


@pytest.fixture()
def client(services, redis_client):
    with TestClient(create_app(Settings(redis_url=services.redis_url))) as c:
        secret = create_key(Settings(redis_url=services.redis_url), "analyst", name="test")[1]
        c.headers["Authorization"] = f"Bearer {secret}"
        yield c


def test_lookup_returns_the_stored_record(client, redis_client):
    record = _decision("evt-1")
    redis_client.set(decision_key(event_ref(None, "evt-1")), record.model_dump_json())
    got = client.get("/v1/decisions/evt-1")
    assert got.status_code == 200
    assert Decision.model_validate(got.json()) == record


def test_unknown_event_is_404_with_a_message(client):
    got = client.get("/v1/decisions/nope")
    assert got.status_code == 404
    assert got.json() == {"detail": "no decision for event_id 'nope'"}


def test_lookup_needs_a_key(client):
    assert client.get("/v1/decisions/evt-1", headers={"Authorization": ""}).status_code == 401


def test_health_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    assert "/v1/decisions/{event_id}" in spec["paths"]
    assert client.get("/docs").status_code == 200
