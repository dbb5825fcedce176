"""Label learning reads the decision records where they live: PostgreSQL when
RISKWIRE_DATABASE_URL is set (issue 18), so a label joins its event's stored features."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from contracts.records import Transaction
from pipeline.label_learning import LabelInput, LabelLearning
from store.database import LazyPool, upgrade
from store.feature_state import OnlineFeatureStore
from store.online_checkpoint import OnlineCheckpoint
from store.pg_decisions import PgDecisionStore
from tests.pipeline.test_label_learning import TaughtLearner, _label, _taught

pytestmark = pytest.mark.services
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _record(event_id: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "scored_at": T0.isoformat(),
            "probability": 0.2,
            "model": {"batch_probability": 0.1},
            "features": {"amount": {"value": float(event_id[1:]), "complete": True}},
        }
    )


def _tx(event_id: str) -> Transaction:
    return Transaction(
        event_id=event_id, occurred_at=T0, amount=1.0, currency="EUR", card_id="c", merchant_id="m"
    )


def test_labels_join_records_stored_in_postgresql(
    redis_client: Any, services: Any, database_url: str
) -> None:
    asyncio.run(upgrade(database_url))

    async def run() -> tuple[int, int, list[list[float]]]:
        client, pool = aioredis.Redis.from_url(services.redis_url), LazyPool(database_url)
        try:
            store = PgDecisionStore(pool)
            ids = [f"e{i}" for i in range(1, 6)]
            await store.put_new([(_tx(e), _record(e)) for e in ids])
            common: dict[str, Any] = {"new_learner": TaughtLearner, "load_learner": TaughtLearner}
            features = OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0)
            checkpoint = OnlineCheckpoint(client, seen_ttl_s=3600)
            inputs = [LabelInput(_label(e), ("labels:0", i)) for i, e in enumerate(ids)]
            in_redis = await LabelLearning(client, features, checkpoint, **common).apply(inputs)
            in_pg = await LabelLearning(client, features, checkpoint, records=store.read, **common).apply(
                inputs
            )
            return in_redis.learned, in_pg.learned + in_pg.pending_resolved, await _taught(client)
        finally:
            await pool.close()
            await client.aclose()

    redis_learned, pg_learned, taught = asyncio.run(run())
    assert redis_learned == 0  # Redis holds no record: the labels wait
    assert pg_learned >= 5 and sorted(taught) == [[float(i), 1] for i in range(1, 6)]
