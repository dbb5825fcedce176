"""Fixtures for the API tests: real Redis (db 0, flushed per test) and Kafka, real keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from contracts.settings import Settings
from tests.api.apihelp import Headers, bearer, new_key


@pytest.fixture()
def api_settings(services, redis_client, model_dir) -> Settings:
    """Settings on the session's services, db 0 (flushed), generous limits, a private labels topic."""
    topic = f"labels-{uuid.uuid4().hex[:10]}"
    return Settings(
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        topic_labels=topic,
        model_dir=model_dir,
        api_rate_per_s=10_000,
        api_rate_burst=10_000,
        api_kafka_timeout_s=10.0,
    )


@pytest.fixture()
def key(api_settings) -> Callable[..., Headers]:
    """``key(role, account=None)`` → Authorization headers of a new real key."""

    def make(role: str, account: str | None = None) -> Headers:
        return bearer(new_key(api_settings, role, account)[1])

    return make


@pytest.fixture()
def client(api_settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c
