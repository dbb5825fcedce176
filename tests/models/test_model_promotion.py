"""Promotion and rollback in the registry, and workers following them without a restart."""

from __future__ import annotations

import json
import time

import pytest
import redis

from models.batch_model import BatchModel
from models.errors import ModelIntegrityError, ModelNotFoundError
from models.hot_reload import ModelFollower
from models.loading import ModelRegistry
from models.registry import MODEL_FILE
from simulator import SimulationConfig, simulate
from stream.topics import ensure_topics
from tests.kafka_io import produce, read_topic, wait_until
from tests.worker_proc import WorkerProcess, isolated_settings


@pytest.fixture()
def registry(candidate_registry) -> ModelRegistry:
    return candidate_registry


def test_promote_and_rollback(registry):
    first = registry.versions()[0] if registry.versions()[0] != "v2-candidate" else registry.versions()[1]
    assert registry.current() == first
    registry.promote("v2-candidate")
    assert registry.current() == "v2-candidate"
    assert registry.rollback() == first and registry.current() == first
    assert [p["version"] for p in registry.promotions()][-3:] == [first, "v2-candidate", first]
    with pytest.raises(ModelNotFoundError):
        registry.promote("nope")


def test_a_tampered_version_cannot_be_promoted(registry):
    path = registry.root / "versions" / "v2-candidate" / MODEL_FILE
    path.write_bytes(path.read_bytes().replace(b'"', b"'", 1))
    before = registry.current()
    with pytest.raises(ModelIntegrityError):
        registry.promote("v2-candidate")
    assert registry.current() == before


def test_the_follower_swaps_between_checks_and_refuses_bad_versions(registry):
    now = [0.0]
    follower = ModelFollower(registry, BatchModel(registry.load()), check_every_s=2.0, clock=lambda: now[0])
    registry.promote("v2-candidate")
    assert follower.refresh() is None, "not before the next check"
    now[0] = 2.5
    assert follower.refresh().version == "v2-candidate"
    assert follower.refresh() is None
    # A version tampered with after its promotion is refused; the running one keeps serving.
    (registry.root / "CURRENT").write_text("v3-bad\n")
    (registry.root / "versions" / "v3-bad").mkdir()
    now[0] = 5.0
    assert follower.refresh() is None and follower.model.version == "v2-candidate"


@pytest.mark.services
def test_a_promotion_during_a_running_stream_loses_and_duplicates_nothing(
    services, worker_settings, registry, tmp_path
):
    s = isolated_settings(worker_settings, tmp_path, db=9, partitions=2).model_copy(
        update={"model_dir": registry.root}
    )
    client = redis.Redis.from_url(s.redis)
    client.flushdb()
    ensure_topics(s)
    old = registry.current()
    records = simulate(SimulationConfig(seed=41, days=6, cards=400, merchants=40)).transactions[:6000]
    worker = WorkerProcess(s).start()
    produce(
        s.bootstrap,
        s.topic_transactions,
        [(r["card_id"].encode(), json.dumps(r).encode()) for r in records[:3000]],
    )
    wait_until(lambda: len(list(client.scan_iter("rw:decision:{*", count=5000))) >= 1000, 30)
    registry.promote("v2-candidate")
    time.sleep(2.5)  # workers look at the registry every 2 s, between batches
    produce(
        s.bootstrap,
        s.topic_transactions,
        [(r["card_id"].encode(), json.dumps(r).encode()) for r in records[3000:]],
    )
    scores = read_topic(s.bootstrap, s.topic_scores, 2, until=lambda m: len(m) >= len(records), timeout=90)
    assert worker.alive(), worker.tail()
    worker.stop()
    keys = [m.key().decode() for m in scores]
    assert sorted(keys) == sorted(r["event_id"] for r in records), "each event scored exactly once"
    versions = {m.key().decode(): json.loads(m.value())["model"]["batch_version"] for m in scores}
    assert versions[records[0]["event_id"]] == old
    assert versions[records[-1]["event_id"]] == "v2-candidate", "the promoted model took over"
    assert set(versions.values()) == {old, "v2-candidate"}


def test_a_version_that_cannot_serve_is_not_promoted(registry):
    artefact = registry.load("v2-candidate")
    manifest = {k: v for k, v in artefact.manifest.items() if k != "files"}
    manifest["feature_names"] = list(reversed(manifest["feature_names"]))
    before = registry.current()
    with pytest.raises(ModelIntegrityError):
        # save() promotes what it writes; a model the catalogue cannot feed is refused
        registry.save("v3-wrong-features", artefact.model_bytes, manifest)
    assert registry.current() == before
