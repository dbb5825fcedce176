"""Per-stage cost of the pipeline, in µs per event, at several batch sizes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from bench.options import stage_events
from contracts.records import Transaction
from explain.risk_score import RiskPolicy
from features.vectorize import vectorize
from models.batch_model import BatchModel
from pipeline.live_state import LiveState
from pipeline.scoring import ScoringPipeline
from store.feature_state import SyncOnlineFeatureStore
from store.layout import feature_pattern


def backfill_cost(store: SyncOnlineFeatureStore, history: Sequence[Transaction], batch: int = 1000) -> float:
    """µs per event to record history through the online store."""
    started = time.perf_counter()
    for i in range(0, len(history), batch):
        store.record_and_fetch(history[i : i + batch])
    return (time.perf_counter() - started) / max(len(history), 1) * 1e6


class StageTimer:
    """Times a model's ``predict_proba`` and ``contributions`` calls (seconds, summed)."""

    def __init__(self, model: BatchModel, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.spent = {"model": 0.0, "explain": 0.0}
        for name, stage in (("predict_proba", "model"), ("contributions", "explain")):
            setattr(model, name, self._timed(getattr(model, name), stage))

    def _timed(self, call: Callable[[Any], Any], stage: str) -> Callable[[Any], Any]:
        def run(x: Any) -> Any:
            started = self.clock()
            try:
                return call(x)
            finally:
                self.spent[stage] += self.clock() - started

        return run


def stage_costs(
    client: redis.Redis,
    store: SyncOnlineFeatureStore,
    model: BatchModel,
    events: Sequence[Transaction],
    batch_sizes: Sequence[int] = (1, 100, 1000),
    per_size: int = 3000,
    max_single: int = 600,
) -> list[dict[str, float]]:
    """Feature, model, SHAP and decision-building cost per event for each batch size.

    Each size takes the next ``per_size`` events (a whole number of batches; at most
    ``max_single`` one at a time, which costs milliseconds each).

    SHAP is what ``decide()`` spends in ``pred_contribs`` (the alerts only); "decide"
    is the rest of ``decide()`` besides the model and SHAP calls."""
    pipeline = ScoringPipeline(features=None, decisions=None, live=LiveState(model), policy=RiskPolicy())  # type: ignore[arg-type]
    timer = StageTimer(model)
    rows = []
    offset = 0
    for size in batch_sizes:
        n = stage_events(size, per_size, max_single)
        chunk = events[offset : offset + n]
        if len(chunk) < n:
            raise ValueError(f"{n} events wanted at batch {size}, {len(chunk)} left")
        offset += n
        t = {"features": 0.0, "model": 0.0, "explain": 0.0, "decide": 0.0}
        timer.spent.update(model=0.0, explain=0.0)
        for i in range(0, len(chunk), size):
            b = chunk[i : i + size]
            a = time.perf_counter()
            raw = store.record_and_fetch(b)
            m = time.perf_counter()
            pipeline.decide(b, raw, a)
            z = time.perf_counter()
            t["features"] += m - a
            t["decide"] += z - m
        t["model"], t["explain"] = timer.spent["model"], timer.spent["explain"]
        # decide() builds the feature matrix too: counted here, no longer under features.
        t["decide"] -= t["model"] + t["explain"]
        rows.append({"batch": size, **{k: v / len(chunk) * 1e6 for k, v in t.items()}})
    return rows


def redis_memory(client: redis.Redis, pattern: str, sample: int = 200) -> float:
    """Mean bytes per key matching ``pattern`` (MEMORY USAGE over a sample)."""
    sizes = []
    for key in client.scan_iter(match=pattern, count=1000):
        sizes.append(client.memory_usage(key, samples=0) or 0)
        if len(sizes) >= sample:
            break
    return sum(sizes) / len(sizes) if sizes else 0.0


def _script_usec(client: redis.Redis) -> float:
    """Server-side µs spent in EVALSHA so far (INFO commandstats)."""
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return float(stats.get("usec", 0)) if isinstance(stats, dict) else 0.0


def feature_stage(
    store: SyncOnlineFeatureStore,
    events: Sequence[Transaction],
    batch_sizes: Sequence[int] = (1, 100, 1000),
    per_size: int = 3000,
    client: redis.Redis | None = None,
) -> dict[int, float]:
    """µs per event of the feature stage alone (one Lua call + vectorize) per batch size.

    With ``client``, also the part spent inside Redis running the script, under the key
    ``-size`` (less sensitive than wall time to other work on a shared machine)."""
    out: dict[int, float] = {}
    offset = 0
    for size in batch_sizes:
        n = max(size, min(per_size, 600 if size == 1 else per_size) // size * size)
        chunk = events[offset : offset + n]
        offset += n
        server = _script_usec(client) if client is not None else 0.0
        started = time.perf_counter()
        for i in range(0, len(chunk), size):
            b = chunk[i : i + size]
            vectorize(b, store.record_and_fetch(b))
        out[size] = (time.perf_counter() - started) / max(len(chunk), 1) * 1e6
        if client is not None:
            out[-size] = (_script_usec(client) - server) / max(len(chunk), 1)
    return out


def feature_month(cards: int = 1000, days: int = 31) -> dict[str, float]:
    """A simulated month through the online store on a private Redis: the feature stage's
    cost at batch 1/100/1,000 after it (wall time, and the script's time inside Redis),
    Redis bytes per card, merchant and event id, and the Lua heap left after a batch."""
    import tempfile
    from pathlib import Path

    from embedded import EmbeddedServices
    from simulator import SimulationConfig, simulate

    sim = simulate(SimulationConfig(seed=7, days=days + 1, cards=cards))
    txs = [Transaction.model_validate(t) for t in sim.transactions]
    cut = len(txs) - 6600  # the last events measure the stage, after a month of history
    with (
        tempfile.TemporaryDirectory(prefix="riskwire-fbench-") as tmp,
        EmbeddedServices(workdir=Path(tmp)) as services,
    ):
        client = redis.Redis.from_url(services.redis_url, socket_timeout=600)
        store = SyncOnlineFeatureStore(client, dedupe_ttl_s=35 * 86400, grace_ms=3_600_000)
        backfill = backfill_cost(store, txs[:cut])
        figures = {
            "events": float(cut),
            "backfill_us": backfill,
            "card_bytes": redis_memory(client, feature_pattern("card")),
            "merchant_bytes": redis_memory(client, feature_pattern("merchant")),
            "event_bytes": redis_memory(client, feature_pattern("ev")),
            "ip_bytes": redis_memory(client, feature_pattern("ip")),
        }
        for size, us in feature_stage(store, txs[cut:], client=client).items():
            name = f"features_us_batch_{size}" if size > 0 else f"script_us_batch_{-size}"
            figures[name] = us
        # Right after the last batch (1,000 events) its garbage is still in the Lua heap.
        memory = client.info("memory")
        figures["lua_heap_bytes"] = float(memory.get("used_memory_vm_eval", memory.get("used_memory_lua", 0)))
        client.close()
    return figures


if __name__ == "__main__":
    for name, value in feature_month().items():
        print(f"{name:>24} {value:>12,.1f}")
