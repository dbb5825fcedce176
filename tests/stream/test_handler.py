"""The batch handler's poison-event policy, on a real Redis with a model that fails on one row."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import redis.asyncio as aioredis

from contracts.identity import event_ref
from contracts.settings import Settings
from explain.risk_score import RiskPolicy
from features.catalogue import FEATURE_INDEX
from models.batch_model import BatchModel
from models.loading import ModelRegistry
from pipeline.live_state import LiveState
from pipeline.scoring import ScoringPipeline
from store.decisions import DecisionStore
from store.feature_state import OnlineFeatureStore
from store.layout import decision_key
from stream.handler import BatchHandler, Incoming
from stream.metrics import WorkerMetrics
from stream.psi_watch import PsiWatch

pytestmark = pytest.mark.services
POISON = 666.0


class PoisonedModel:
    """The real model, except that it fails on any batch containing the poison amount."""

    def __init__(self, model: BatchModel) -> None:
        self._model = model
        self.version = model.version

    def _check(self, x):
        if np.any(x[:, FEATURE_INDEX["amount"]] == POISON):
            raise ValueError("model cannot score this row")

    def predict_proba(self, x):
        self._check(x)
        return self._model.predict_proba(x)

    def contributions(self, x):
        self._check(x)
        return self._model.contributions(x)


class Collect:
    def __init__(self) -> None:
        self.records = []

    async def publish(self, records) -> None:
        self.records.extend(records)


def test_a_poison_event_is_dead_lettered_and_the_rest_scored(services, redis_client, model_dir):
    async def run() -> Collect:
        client = aioredis.Redis.from_url(services.redis_url)
        pipeline = ScoringPipeline(
            features=OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0),
            decisions=DecisionStore(client, ttl_s=3600),
            live=LiveState(PoisonedModel(BatchModel(ModelRegistry(model_dir).load()))),  # type: ignore[arg-type]
            policy=RiskPolicy(),
        )
        out = Collect()
        handler = BatchHandler(Settings(), pipeline, out)
        start = datetime(2026, 3, 1, tzinfo=UTC)
        messages = []
        for i in range(40):
            tx = {
                "event_id": f"p{i}",
                "occurred_at": (start + timedelta(minutes=i)).isoformat(),
                "amount": POISON if i == 17 else 10.0 + i,
                "currency": "EUR",
                "card_id": f"c{i % 3}",
                "merchant_id": "m",
            }
            messages.append(Incoming("transactions", 0, i, b"k", json.dumps(tx).encode()))
        stats = await handler.handle(messages)
        await client.aclose()
        assert (stats.scored, stats.rejected) == (39, 1)
        return out

    out = asyncio.run(run())
    dlq = [r for r in out.records if r.topic == "dlq"]
    scores = [r for r in out.records if r.topic == "scores"]
    assert len(dlq) == 1 and json.loads(dlq[0].value)["event_id"] == "p17"
    headers = dict(dlq[0].headers)
    assert headers["error_class"] == b"processing" and b"cannot score this row" in headers["error"]
    assert headers["source_offset"] == b"17"
    assert sorted(r.key.decode() for r in scores) == sorted(f"p{i}" for i in range(40) if i != 17)


def test_an_event_id_of_another_account_is_another_event_scored_on_its_own(services, redis_client, model_dir):
    async def run() -> tuple[Collect, Collect]:
        client = aioredis.Redis.from_url(services.redis_url)
        pipeline = ScoringPipeline(
            features=OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0),
            decisions=DecisionStore(client, ttl_s=3600),
            live=LiveState(BatchModel(ModelRegistry(model_dir).load())),
            policy=RiskPolicy(),
        )

        def message(account: str, amount: float) -> Incoming:
            tx = {
                "event_id": "ord-1001",
                "occurred_at": "2026-03-01T10:00:00Z",
                "amount": amount,
                "currency": "EUR",
                "card_id": f"{account}-card",
                "merchant_id": "m",
                "account_id": account,
            }
            return Incoming("transactions", 0, 1, b"k", json.dumps(tx).encode())  # fmt: skip

        first, second = Collect(), Collect()
        await BatchHandler(Settings(), pipeline, first).handle([message("acme", 1.0)])
        await BatchHandler(Settings(), pipeline, second).handle([message("globex", 9000.0)])
        await client.aclose()
        return first, second

    first, second = asyncio.run(run())
    assert [r.topic for r in first.records if r.topic != "alerts"] == ["scores"]
    # No dead letter and no conflict: globex's ord-1001 is globex's own payment, never acme's.
    assert [r.topic for r in second.records if r.topic != "alerts"] == ["scores"]
    mine, theirs = (json.loads(c.records[0].value) for c in (first, second))
    assert (mine["account_id"], theirs["account_id"]) == ("acme", "globex")
    assert mine["event_id"] == theirs["event_id"] == "ord-1001"
    assert theirs["card_id"] == "globex-card" and mine["card_id"] == "acme-card"


@pytest.mark.parametrize("include_features", [False, True])
def test_the_topics_get_the_stored_record_lean_or_whole_and_again_on_redelivery(
    services, redis_client, model_dir, include_features
):
    settings = Settings(scores_include_features=include_features)

    async def run() -> tuple[list, list, dict[str, bytes]]:
        client = aioredis.Redis.from_url(services.redis_url)
        pipeline = ScoringPipeline(
            features=OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0),
            decisions=DecisionStore(client, ttl_s=3600),
            live=LiveState(BatchModel(ModelRegistry(model_dir).load())),
            policy=RiskPolicy(elevated=1, highest=99),  # some reviews too
        )
        start = datetime(2026, 3, 1, tzinfo=UTC)
        messages = [
            Incoming(
                "transactions",
                0,
                i,
                b"k",
                json.dumps(
                    {
                        "event_id": f"r{i}",
                        "occurred_at": (start + timedelta(minutes=i)).isoformat(),
                        "amount": 10.0 + 50 * i,
                        "currency": "EUR",
                        "card_id": "c1",
                        "merchant_id": "m",
                        "account_id": "acme",
                    }
                ).encode(),
            )
            for i in range(30)
        ]
        first, again = Collect(), Collect()
        await BatchHandler(settings, pipeline, first).handle(messages)
        await BatchHandler(settings, pipeline, again).handle(messages)  # redelivered
        stored = {f"r{i}": await client.get(decision_key(event_ref("acme", f"r{i}"))) for i in range(30)}
        await client.aclose()
        return first.records, again.records, stored

    first, again, stored = asyncio.run(run())
    assert [(r.topic, r.key, r.value) for r in again] == [(r.topic, r.key, r.value) for r in first]
    scores = [r for r in first if r.topic == settings.topic_scores]
    alerts = [r for r in first if r.topic == settings.topic_alerts]
    assert len(scores) == 30 and alerts
    for r in first:
        record = json.loads(r.value)
        assert r.key.decode() == record["event_id"]
        whole = stored[record["event_id"]]
        assert record["account_id"] == "acme"
        if include_features:
            assert r.value == whole
        else:
            assert "feature_vector" not in record and len(r.value) <= 1500
            assert record == {k: v for k, v in json.loads(whole).items() if k != "feature_vector"}


def test_the_batch_report_feeds_the_psi_watch_and_the_shadow_counter(services, redis_client, model_dir):
    settings = Settings()

    async def run() -> tuple[WorkerMetrics, PsiWatch]:
        client = aioredis.Redis.from_url(services.redis_url)
        model = BatchModel(ModelRegistry(model_dir).load())
        pipeline = ScoringPipeline(
            features=OnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=0),
            decisions=DecisionStore(client, ttl_s=3600),
            live=LiveState(model, shadow=model),  # the champion as its own shadow
            policy=RiskPolicy(),
        )
        metrics = WorkerMetrics()
        watch = PsiWatch(settings, metrics, model.manifest.get("reference", {}))
        start = datetime(2026, 3, 2, tzinfo=UTC)
        messages = [
            Incoming(
                "transactions",
                0,
                i,
                b"k",
                json.dumps(
                    {
                        "event_id": f"w{i}",
                        "occurred_at": (start + timedelta(minutes=i)).isoformat(),
                        "amount": 20.0 + i,
                        "currency": "EUR",
                        "card_id": "c2",
                        "merchant_id": "m",
                    }
                ).encode(),
            )
            for i in range(12)
        ]
        await BatchHandler(settings, pipeline, Collect(), metrics, watch).handle(messages)
        await client.aclose()
        return metrics, watch

    metrics, watch = asyncio.run(run())
    assert metrics.registry.get_sample_value("riskwire_shadow_decisions_total", {"agreement": "same"}) == 12
    assert watch.monitor.observed == 12
