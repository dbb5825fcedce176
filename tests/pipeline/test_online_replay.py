"""Replay with labels: the online model learns in event time and shows in decisions."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio as aioredis

from api.explanations import Explainer, ModelCache
from contracts.records import Decision
from contracts.settings import Settings
from models.batch_model import BatchModel
from models.loading import ModelRegistry
from pipeline.factory import build_label_learning, build_pipeline
from pipeline.replay import replay

pytestmark = pytest.mark.services


async def _replay(settings: Settings, txs, labels, online: bool) -> list[dict]:
    client = aioredis.Redis.from_url(settings.redis)
    await client.flushdb()
    pipeline = build_pipeline(settings, client, online=online)
    # The champion, as its own shadow.
    pipeline.live.shadow = BatchModel(ModelRegistry(settings.model_dir).load())
    learning = build_label_learning(settings, client) if online else None
    out = [orjson.loads(b) async for b in replay(txs, pipeline, labels=labels, learning=learning, batch=250)]
    await client.aclose()
    return out


def test_online_learning_in_replay_blends_and_explains_its_share(services, model_dir, small_history):
    txs, labels, _ = small_history
    # The plumbing under test, not the blend rule: a floor gives the online model a weight
    # whatever it has earned (on this short history it earns none: the batch model is better).
    settings = Settings(
        redis_url=services.redis_url.rsplit("/", 1)[0] + "/9", model_dir=model_dir, blend_w_min=0.1
    )
    with_online = asyncio.run(_replay(settings, txs, labels, online=True))
    alone = asyncio.run(_replay(settings, txs, labels, online=False))
    assert len(with_online) == len(alone) == len({t.event_id for t in txs})
    explainer = Explainer(ModelCache(ModelRegistry(settings.model_dir)))
    for record in explainer.present([orjson.dumps(r) for r in with_online[:50] + with_online[-50:]]):
        Decision.model_validate(record)  # the contract holds with the new fields, as the API serves it

    # Batch model alone: full weight, no online line, same batch probabilities as with it.
    assert all(r["model"]["online_version"] is None and r["model"]["batch_weight"] == 1.0 for r in alone)
    assert [r["model"]["batch_probability"] for r in alone] == [
        r["model"]["batch_probability"] for r in with_online
    ]
    # With it: once enough labels are in, the online model has weight and its own reason line.
    blended = [r for r in with_online if r["model"]["online_weight"] > 0]
    assert len(blended) > len(with_online) // 4
    for r in blended[:200]:
        m = r["model"]
        expected = m["batch_weight"] * m["batch_probability"] + m["online_weight"] * m["online_probability"]
        assert r["probability"] == pytest.approx(expected, rel=1e-9)
    # Alerts carry the line; allowed payments get it (and their SHAP reasons) on demand.
    served = explainer.present([orjson.dumps(r) for r in blended[:200]])
    for r, api in zip(blended[:200], served, strict=True):
        assert api["explained"] and (r["reasons"] == api["reasons"] or not r["explained"])
        line = [x for x in api["reasons"] if x["feature"] == "online_model"]
        assert len(line) == 1 and "online model" in line[0]["text"]
    # The learner named in late decisions has learned labels, in event time.
    assert int(with_online[-1]["model"]["online_version"].rsplit("+", 1)[1]) > 50
    # The champion as shadow agrees with the batch-only decisions, and never changes them.
    assert all(r["shadow"]["probability"] == r["model"]["batch_probability"] for r in alone)
    assert [r["decision"] for r in alone] == [r["shadow"]["decision"] for r in alone]
