"""`python -m bench` / `make bench` / `riskwire bench`: print the figures.

1. Stage costs (features in Redis, model, SHAP, decision building) in µs per
   event at batch sizes 1, 100 and 1,000, and Redis memory per card/merchant.
2. The real worker (`riskwire worker` as a child process) on embedded Kafka and
   Redis: sustained events/s for a burst, then publish-to-score latency p50/p99
   at a steady rate.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import redis

from bench.api_lookup import lookup_latency
from bench.end_to_end import (
    ScoreWatcher,
    broker_hop_latency,
    percentile,
    publish_burst,
    publish_steady,
)
from bench.stages import backfill_cost, redis_memory, stage_costs
from cli.keys import create_key
from contracts.records import Label, Transaction
from contracts.settings import Settings
from embedded import EmbeddedServices, free_port
from features.online_store import SyncOnlineFeatureStore
from models.batch_model import BatchModel
from models.registry import ModelRegistry
from models.training import build_training_set, train
from simulator import SimulationConfig, simulate
from stream.topics import ensure_topics

HISTORY_DAYS = 30


def _say(text: str) -> None:
    print(text, flush=True)


def _start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        RISKWIRE_KAFKA_BOOTSTRAP=settings.bootstrap,
        RISKWIRE_REDIS_URL=settings.redis,
        RISKWIRE_MODEL_DIR=str(settings.model_dir),
        RISKWIRE_VAR_DIR=str(settings.var_dir),
        RISKWIRE_WORKER_WEB_PORT=str(free_port()),
    )
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "worker"], env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while b"Worker]: Ready" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return proc


def run(events: int = 30_000, rate: float = 1_000.0, seconds: float = 20.0, cards: int = 2000) -> None:
    with tempfile.TemporaryDirectory(prefix="riskwire-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with EmbeddedServices(workdir=tmp / "services") as services:
            _run(services, tmp, events, rate, seconds, cards)


def _run(services: EmbeddedServices, tmp: Path, events: int, rate: float, seconds: float, cards: int) -> None:
    settings = Settings(
        kafka_bootstrap=services.kafka_bootstrap,
        redis_url=services.redis_url,
        model_dir=tmp / "models",
        var_dir=tmp,
    )
    _say(f"simulating {cards:,} cards over {HISTORY_DAYS} days of history and what follows ...")
    config = SimulationConfig(seed=7, days=HISTORY_DAYS + 14, cards=cards)
    sim = simulate(config)
    cut = config.start + timedelta(days=HISTORY_DAYS)
    txs = [Transaction.model_validate(t) for t in sim.transactions]
    history = [t for t in txs if t.occurred_at < cut]
    stream = [r for r in sim.transactions if datetime.fromisoformat(r["occurred_at"]) >= cut]
    labels = [Label.model_validate(lab) for lab in sim.labels]
    _say(f"training on {len(history):,} payments ...")
    result = train(build_training_set(history, labels), seed=7)
    ModelRegistry(settings.model_dir).save(result.version, result.model_bytes, result.manifest)
    model = BatchModel(ModelRegistry(settings.model_dir).load())
    _say(f"model {model.version}: {result.manifest['metrics']['trees']} trees\n")

    client = redis.Redis.from_url(settings.redis)
    store = SyncOnlineFeatureStore(client, dedupe_ttl_s=settings.event_dedupe_ttl_s, grace_ms=3_600_000)
    backfill_us = backfill_cost(store, history)
    card_bytes = redis_memory(client, "rw:f:card:*")
    merchant_bytes = redis_memory(client, "rw:f:merchant:*")
    event_bytes = redis_memory(client, "rw:f:event:*")
    live = [t for t in txs if t.occurred_at >= cut]
    rows = stage_costs(client, store, model, live)
    _say("stage costs, µs per event (features = one Redis round trip per batch)")
    _say(f"{'batch':>6} {'features':>9} {'model':>7} {'SHAP':>7} {'decide':>7} {'total':>7}")
    for r in rows:
        total = r["features"] + r["model"] + r["explain"] + r["decide"]
        _say(
            f"{int(r['batch']):>6} {r['features']:>9.1f} {r['model']:>7.1f} {r['explain']:>7.1f} "
            f"{r['decide']:>7.1f} {total:>7.1f}"
        )
    _say(f"backfill through the online store: {backfill_us:.1f} µs/event ({len(history):,} events)")
    _say(
        f"Redis memory after {HISTORY_DAYS} days: {card_bytes:,.0f} B per card, "
        f"{merchant_bytes:,.0f} B per merchant, {event_bytes:,.0f} B per event id\n"
    )

    # End to end: a fresh feature state with the history, then the real worker.
    client.flushall()
    backfill_cost(store, history)
    client.close()
    ensure_topics(settings)
    hop = broker_hop_latency(settings.bootstrap, "bench-hop")
    watcher = ScoreWatcher(settings.bootstrap, settings.topic_scores, settings.topic_partitions)
    watcher.start()
    proc = _start_worker(settings, tmp / "worker.log")
    try:
        burst = stream[:events]
        _say(f"end to end: publishing {len(burst):,} payments as fast as possible ...")
        t0 = publish_burst(settings.bootstrap, settings.topic_transactions, burst)
        last = watcher.wait_for([r["event_id"] for r in burst], timeout=600)
        throughput = len(burst) / (last - t0)
        steady = stream[events : events + int(rate * seconds)]
        _say(f"end to end: {len(steady):,} payments at a steady {rate:,.0f}/s ...")
        sent = publish_steady(settings.bootstrap, settings.topic_transactions, steady, rate)
        watcher.wait_for(list(sent), timeout=120)
        lat = [(watcher.arrived[k] - t) * 1000 for k, t in sent.items()]
    finally:
        watcher.stop()
        proc.terminate()
        proc.wait(30)
    _say(
        f"sustained throughput: {throughput:,.0f} events/s ({len(burst):,} events, 1 worker, 2 cores shared)"
    )
    _say(
        f"publish-to-score latency at {rate:,.0f}/s: p50 {percentile(lat, 0.5):.1f} ms, "
        f"p99 {percentile(lat, 0.99):.1f} ms, max {max(lat):.1f} ms "
        f"(two broker hops; one hop through the broker alone: p50 {hop:.1f} ms)"
    )
    _say("decision lookups through the API at a steady 200 requests/s ...")
    _, secret = create_key(settings, "analyst", name="bench")
    ids = [r["event_id"] for r in burst]
    lookup_p50, lookup_p99, lookups = lookup_latency(settings, secret, ids, 200.0, 15.0, tmp / "api.log")
    _say(
        f"decision lookup (GET /v1/decisions/{{id}}, analyst key) at 200 requests/s: "
        f"p50 {lookup_p50:.1f} ms, p99 {lookup_p99:.1f} ms ({lookups:,} requests)"
    )


if __name__ == "__main__":
    run()
