"""`python -m bench` / `make bench`: the hot path's figures beside their peers.

One run, one embedded broker, one Redis, one set of simulated payments:

1. simulate ``--cards`` cards over ``--history-days`` days and what follows; train on the history;
   backfill the history into Redis through the online store (µs/event, bytes per key);
2. publish ``--events`` payments to ``transactions`` before anything consumes them;
3. the decode-only agent (bench/decode_only.py: the worker's Faust app, consumer settings and
   batches, only orjson decoding, one small record out per event) drains them: events/s from
   its first output to its last;
4. the real worker (`riskwire worker`, a child process) drains the same payments (its own
   consumer group): events/s from the first decision on ``scores`` to the last, and Redis CPU
   µs per event from the servers' ``INFO cpu`` (sys + user, summed over every node);
5. payments at a steady ``--rate`` through the worker: publish-to-score p50/p99;
6. the same payments at the same rate through a plain consume-and-forward (bench/forward.py):
   the broker hop's p50/p99, the floor under the worker's;
7. decision lookups through the API at 200 requests/s (skip with ``--no-api``);
8. per-stage µs per event (features, model, SHAP, decide) at batch 1, 100 and 1,000;
9. `riskwire replay` (the CLI, a child process) over the payments of step 2, written to a file:
   events/s once its start-up (a one-payment replay, measured apart) is taken out.

Then a table of each figure beside its peer, the ratio and the target, and the same as JSON
(``--json``, default var/bench.json). Sizes come from flags or ``BENCH_*`` variables
(``BENCH_EVENTS=5000 make bench`` for a quick run).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench import children
from bench.end_to_end import OutputWatcher, create_topics, publish_burst, publish_steady
from bench.options import STAGE_BATCHES, Options, parse_args
from bench.redis_cpu import RedisCpu
from bench.report import format_stages, format_table, summary_rows, write_json
from bench.services import BenchServices, NotAvailable
from bench.services import start as start_services
from bench.stages import backfill_cost, redis_memory, stage_costs
from bench.stats import latencies_ms, per_event_us, percentile, replay_rate, replay_reported_s, sustained_rate

DECODED_TOPIC = "bench-decoded"
HOP_IN_TOPIC = "bench-hop-in"
HOP_OUT_TOPIC = "bench-hop-out"
#: Unmeasured records through the forwarder before its latency run.
WARM_UP = 500
API_RATE = 200.0
API_SECONDS = 15.0
#: Payments per card-day the simulator makes, a little under its mean (for sizing only).
_PER_CARD_DAY = 1.6


class Phases:
    """One progress line per phase: what it does, then its result and how long it took."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, text: str) -> Iterator[dict[str, str]]:
        self.done += 1
        print(f"[{self.done:>2}/{self.total}] {text} ...", end="", flush=True)
        out = {"result": "done"}
        started = time.monotonic()
        try:
            yield out
        except BaseException:
            print(" failed", flush=True)
            raise
        self.seconds[text] = elapsed = time.monotonic() - started
        print(f" {out['result']} ({elapsed:.0f} s)", flush=True)


def run(opts: Options | None = None, **overrides: Any) -> dict[str, Any]:
    """Run every phase and print the figures; returns the JSON document written."""
    opts = opts or Options()
    for name, value in overrides.items():
        setattr(opts, name, value)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="riskwire-bench-")))
        services = start_services(stack, tmp / "services", redis_cluster=opts.redis_cluster)
        figures = _run(services, tmp, opts)
    params = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()}
    doc = write_json(opts.json_path, figures, params)
    print(f"\nfigures written to {opts.json_path}")
    return doc


def _run(services: BenchServices, tmp: Path, opts: Options) -> dict[str, Any]:
    from contracts.identity import load_names
    from contracts.records import Label, Transaction
    from contracts.settings import Settings
    from models.batch_model import BatchModel
    from models.loading import ModelRegistry
    from models.training import build_training_set, train
    from simulator import SimulationConfig, simulate
    from store.feature_state import SyncOnlineFeatureStore
    from store.layout import feature_pattern
    from stream.topics import ensure_topics

    settings = Settings(
        kafka_bootstrap=services.kafka_bootstrap,
        redis_url=services.redis_url,
        model_dir=tmp / "models",
        var_dir=tmp,
    )
    figures: dict[str, Any] = {"redis_nodes": len(services.redis_nodes), "errors": {}}
    phases = Phases(10 + int(opts.api) + int(opts.postgres) + 1)
    mode = f"Redis Cluster of {len(services.redis_nodes)} masters" if services.cluster else "one Redis"
    cores = os.cpu_count()
    print(f"riskwire bench: embedded broker {services.kafka_bootstrap}, {mode}, {cores} cores\n", flush=True)

    # --- data and model -------------------------------------------------------------------
    with phases.phase(f"simulating {opts.cards:,} cards") as ph:
        days_after = math.ceil(opts.after_history() / (opts.cards * _PER_CARD_DAY)) + 1
        config = SimulationConfig(seed=7, days=opts.history_days + days_after, cards=opts.cards)
        sim = simulate(config)
        cut = config.start + timedelta(days=opts.history_days)
        txs = [Transaction.model_validate(t) for t in sim.transactions]
        history = [t for t in txs if t.occurred_at < cut]
        live = [t for t in txs if t.occurred_at >= cut]
        later = [r for r in sim.transactions if datetime.fromisoformat(r["occurred_at"]) >= cut]
        if len(later) < opts.after_history():
            raise SystemExit(
                f"the simulation has {len(later):,} payments after the history, "
                f"{opts.after_history():,} needed: raise --cards or lower --events/--rate/--seconds"
            )
        labels = [Label.model_validate(lab) for lab in sim.labels]
        ph["result"] = f"{len(history):,} payments of history, {len(later):,} after"
    burst = later[: opts.events]
    steady = later[opts.events : opts.events + opts.steady_events]
    staged = live[opts.events + opts.steady_events :]
    # Fresh payments for the PostgreSQL run, after those the stage costs may use.
    pg_burst = later[-opts.events :] if opts.postgres else []

    with phases.phase(f"training on {len(history):,} payments") as ph:
        result = train(build_training_set(history, labels), seed=7)
        ModelRegistry(settings.model_dir).save(result.version, result.model_bytes, result.manifest)
        model = BatchModel(ModelRegistry(settings.model_dir).load())
        ph["result"] = f"model {model.version}, {result.manifest['metrics']['trees']} trees"
    figures["model"] = {"version": model.version, "trees": result.manifest["metrics"]["trees"]}

    client = services.client()
    store = SyncOnlineFeatureStore(
        client, dedupe_ttl_s=settings.event_dedupe_ttl_s, grace_ms=3_600_000, names=load_names(settings)
    )
    with phases.phase(f"backfilling {len(history):,} payments into Redis") as ph:
        figures["backfill_us_per_event"] = backfill_cost(store, history)
        figures["redis_bytes"] = {
            name: redis_memory(client, feature_pattern(tag))
            for name, tag in (("card", "card"), ("merchant", "merchant"), ("event", "ev"))
        }
        ph["result"] = f"{figures['backfill_us_per_event']:,.0f} µs/event"

    # --- the same waiting payments: decode-only agent, then the worker ----------------------
    ensure_topics(settings)
    create_topics(settings.bootstrap, [DECODED_TOPIC, HOP_IN_TOPIC, HOP_OUT_TOPIC], settings.topic_partitions)
    with phases.phase(f"publishing {len(burst):,} payments to {settings.topic_transactions}") as ph:
        took = publish_burst(settings.bootstrap, settings.topic_transactions, burst)
        ph["result"] = f"{len(burst) / took:,.0f}/s"
    burst_ids = [r["event_id"] for r in burst]
    distinct = len(set(burst_ids))

    cpu = RedisCpu(services.redis_nodes)
    with phases.phase("decode-only agent draining them") as ph:
        idle, idle_from = cpu.snapshot(), time.monotonic()  # nothing uses Redis meanwhile
        watcher = OutputWatcher(settings.bootstrap, DECODED_TOPIC, settings.topic_partitions)
        watcher.start()
        try:
            with children.decode_only(settings, DECODED_TOPIC, tmp / "decode-only.log") as agent:
                agent.start(children.WORKER_READY)
                arrivals = watcher.wait_for(burst_ids, timeout=max(120.0, len(burst) / 200))
        finally:
            watcher.stop()
        rate, counted, span = sustained_rate(arrivals)
        figures.update(decode_only_events_per_s=rate, decode_only_counted=counted, decode_only_span_s=span)
        figures["redis_idle_cpu_us_per_s"] = cpu.since(idle) / (time.monotonic() - idle_from) * 1e6
        ph["result"] = f"{rate:,.0f} events/s"

    scores = OutputWatcher(settings.bootstrap, settings.topic_scores, settings.topic_partitions)
    scores.start()
    worker = children.worker(settings, tmp / "worker.log", services.child_env)
    try:
        with phases.phase("worker draining the same payments") as ph:
            before = cpu.snapshot()
            worker.start(children.WORKER_READY)
            arrivals = scores.wait_for(burst_ids, timeout=max(300.0, len(burst) / 50))
            spent = cpu.since(before)
            rate, counted, span = sustained_rate(arrivals)
            figures.update(
                worker_events_per_s=rate,
                worker_counted=counted,
                worker_span_s=span,
                redis_cpu_s=spent,
                redis_cpu_us_per_event=per_event_us(spent, distinct),
            )
            figures["worker_vs_decode_only"] = rate / figures["decode_only_events_per_s"]
            ph["result"] = (
                f"{rate:,.0f} events/s, Redis {figures['redis_cpu_us_per_event']:,.0f} µs CPU/event"
            )

        with phases.phase(f"{len(steady):,} payments at {opts.rate:,.0f}/s through the worker") as ph:
            before = cpu.snapshot()
            sent = publish_steady(settings.bootstrap, settings.topic_transactions, steady, opts.rate)
            got = _wait_steady(scores, sent, figures, "latency")
            figures["redis_cpu_us_per_event_steady"] = per_event_us(cpu.since(before), max(got, 1))
            ph["result"] = f"p50 {figures['latency_p50_ms']:,.1f} ms, p99 {figures['latency_p99_ms']:,.1f} ms"
    finally:
        scores.stop()
        worker.stop()
        cpu.close()

    if opts.postgres:
        with phases.phase(f"worker draining {len(pg_burst):,} more payments, decisions in PostgreSQL") as ph:
            _postgres_worker(services, settings, tmp, pg_burst, figures)
            ph["result"] = (
                f"{figures['worker_pg_events_per_s']:,.0f} events/s "
                f"({figures['worker_pg_vs_redis']:.0%} of the Redis-only run)"
            )

    with phases.phase(f"the same payments at {opts.rate:,.0f}/s through a plain forwarder") as ph:
        hop = OutputWatcher(settings.bootstrap, HOP_OUT_TOPIC, settings.topic_partitions)
        hop.start()
        try:
            with children.forwarder(settings, HOP_IN_TOPIC, HOP_OUT_TOPIC, tmp / "forward.log") as fwd:
                fwd.start(b"forwarder ready")
                # The worker's path is warm from the burst: warm this one too (connections,
                # metadata, the watcher's first fetches) with records that are not measured.
                warm = [{**r, "event_id": f"warm-up-{i}"} for i, r in enumerate(steady[:WARM_UP])]
                publish_steady(settings.bootstrap, HOP_IN_TOPIC, warm, opts.rate, key_field="event_id")
                hop.wait_for([r["event_id"] for r in warm], timeout=60)
                sent = publish_steady(
                    settings.bootstrap, HOP_IN_TOPIC, steady, opts.rate, key_field="event_id"
                )
                _wait_steady(hop, sent, figures, "hop")
        finally:
            hop.stop()
        ph["result"] = f"p50 {figures['hop_p50_ms']:,.1f} ms, p99 {figures['hop_p99_ms']:,.1f} ms"

    if opts.api:
        with phases.phase(f"decision lookups through the API at {API_RATE:,.0f} requests/s") as ph:
            try:
                from bench.api_lookup import lookup_latency

                secret = children.create_key(settings, "analyst", "bench", services.child_env)
                p50, p99, n = lookup_latency(
                    settings, secret, burst_ids, API_RATE, API_SECONDS, tmp / "api.log"
                )
                figures.update(api_lookup_p50_ms=p50, api_lookup_p99_ms=p99, api_lookups=n)
                ph["result"] = f"p50 {p50:,.1f} ms, p99 {p99:,.1f} ms"
            except Exception as exc:  # a side figure: report it, keep the run
                figures["errors"]["api"] = repr(exc)
                ph["result"] = f"FAILED: {exc!r}"[:200]

    with phases.phase("stage costs at batch 1, 100 and 1,000") as ph:
        rows = stage_costs(
            client, store, model, staged, batch_sizes=STAGE_BATCHES, per_size=opts.stage_events
        )
        figures["stages_us_per_event"] = rows
        big = rows[-1]
        figures.update(
            explain_us_per_event=big["explain"],
            model_us_per_event=big["model"],
            features_us_per_event=big["features"],
            decide_us_per_event=big["decide"],
        )
        ph["result"] = f"SHAP {big['explain']:,.1f} µs/event at batch {int(big['batch']):,}"
    client.close()

    with phases.phase(f"riskwire replay over {opts.replayed:,} of the same payments") as ph:
        try:
            # As people run it (private Redis, features in memory), then into a given Redis.
            _replay(services, settings, tmp, burst[: opts.replayed], figures, redis_url=None)
            into: dict[str, Any] = {}
            _replay(services, settings, tmp, burst[: opts.replayed], into, redis_url=settings.redis)
            figures["replay_redis_url_events_per_s"] = into["replay_events_per_s"]
            ph["result"] = (
                f"{figures['replay_events_per_s']:,.0f} events/s "
                f"({into['replay_events_per_s']:,.0f} with --redis-url)"
            )
        except Exception as exc:
            figures["errors"]["replay"] = repr(exc)
            ph["result"] = f"FAILED: {exc!r}"[:200]

    with phases.phase("encryption at rest of the replayed decision records") as ph:
        try:
            figures.update(_at_rest(settings, tmp / "replay-full.jsonl"))
            ph["result"] = (
                f"{figures['at_rest_sealed_us_per_event']:,.1f} µs/record sealed, "
                f"{figures['at_rest_plain_us_per_event']:,.1f} plain"
            )
        except Exception as exc:  # a side figure: report it, keep the run
            figures["errors"]["at_rest"] = repr(exc)
            ph["result"] = f"FAILED: {exc!r}"[:200]

    figures["phase_seconds"] = phases.seconds
    _print_figures(figures)
    return figures


def _postgres_worker(
    services: BenchServices, settings: Any, tmp: Path, payments: list[dict[str, Any]], figures: dict[str, Any]
) -> None:
    """The burst again, fresh payments of the same stream, waiting for a worker whose
    decision records go to an embedded PostgreSQL (RISKWIRE_DATABASE_URL): its events/s
    measured as the Redis-only run's, and every event's record checked in the database."""
    import asyncio

    import psycopg

    from embedded.postgres import EmbeddedPostgres
    from store.database import upgrade

    ids = [r["event_id"] for r in payments]
    with EmbeddedPostgres(workdir=tmp / "postgres") as pg:
        asyncio.run(upgrade(pg.url))
        publish_burst(settings.bootstrap, settings.topic_transactions, payments)
        scores = OutputWatcher(settings.bootstrap, settings.topic_scores, settings.topic_partitions)
        scores.start()
        env = {**services.child_env, "RISKWIRE_DATABASE_URL": pg.url}
        try:
            with children.worker(settings, tmp / "worker-postgres.log", env) as worker:
                worker.start(children.WORKER_READY)
                arrivals = scores.wait_for(ids, timeout=max(300.0, len(payments) / 50))
        finally:
            scores.stop()
        with psycopg.connect(pg.url) as conn:
            row = conn.execute("SELECT count(*) FROM decisions WHERE event_id = ANY(%s)", (ids,)).fetchone()
    rate, counted, span = sustained_rate(arrivals)
    stored = int(row[0]) if row else 0
    if stored != len(set(ids)):
        raise RuntimeError(f"PostgreSQL holds {stored:,} records for {len(set(ids)):,} payments")
    figures.update(worker_pg_events_per_s=rate, worker_pg_counted=counted, worker_pg_span_s=span)
    figures["worker_pg_vs_redis"] = rate / figures["worker_events_per_s"]


def _at_rest(settings: Any, records_file: Path) -> dict[str, Any]:
    from bench.at_rest_cost import measure
    from store.connect import sync_client

    records = records_file.read_bytes().splitlines()
    if not records:
        raise RuntimeError(f"no records in {records_file}")
    client = sync_client(settings)
    try:
        return measure(client, records)
    finally:
        client.close()


def _wait_steady(watcher: OutputWatcher, sent: dict[str, float], figures: dict[str, Any], name: str) -> int:
    """Latency percentiles of a steady run under ``name``_…; outputs that never came are counted."""
    try:
        watcher.wait_for(list(sent), timeout=max(120.0, len(sent) / 100))
    except TimeoutError as exc:
        figures["errors"][name] = str(exc)
    arrived = {k: watcher.arrived[k] for k in sent if k in watcher.arrived}
    lat = latencies_ms({k: sent[k] for k in arrived}, arrived)
    figures.update(
        {
            f"{name}_p50_ms": percentile(lat, 0.50),
            f"{name}_p99_ms": percentile(lat, 0.99),
            f"{name}_max_ms": max(lat),
            f"{name}_events": len(lat),
            f"{name}_missing": len(sent) - len(lat),
        }
    )
    return len(lat)


def _replay(
    services: BenchServices,
    settings: Any,
    tmp: Path,
    payments: list[dict[str, Any]],
    figures: dict[str, Any],
    *,
    redis_url: str | None,
) -> None:
    """`riskwire replay`, on its own private Redis (``redis_url`` None: the default, features
    in memory) or on the bench's Redis (emptied first, as replay requires): once over one
    payment (its start-up: model, scripts, the first batch), then over all of them. Times are
    the ones the CLI reports for itself (Python's own start left out), else wall times."""
    full, one = tmp / "payments.jsonl", tmp / "one-payment.jsonl"
    full.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in payments))
    one.write_bytes(orjson.dumps(payments[0]) + b"\n")
    env = children.service_env(settings, services.child_env)
    timings = []
    for name, path in (("startup", one), ("full", full)):
        services.flush()
        out, log = tmp / f"replay-{name}.jsonl", tmp / f"replay-{name}.log"
        argv = [sys.executable, "-m", "cli", "replay", "--transactions", str(path), "--out", str(out)]
        if redis_url is not None:
            argv += ["--redis-url", redis_url]
        wall = children.run_timed(argv, env, log)
        timings.append((wall, replay_reported_s(log.read_bytes())))
    written = sum(1 for _ in out.open("rb"))
    expected = len({r["event_id"] for r in payments})
    if written != expected:
        raise RuntimeError(f"replay wrote {written:,} records for {expected:,} payments")
    (startup_wall, startup_cli), (full_wall, full_cli) = timings
    own = startup_cli is not None and full_cli is not None
    startup, total = (startup_cli, full_cli) if own else (startup_wall, full_wall)
    rate, subtracted = replay_rate(len(payments), total, startup)  # type: ignore[arg-type]
    figures.update(
        replay_events_per_s=rate,
        replay_s=total,
        replay_startup_s=startup,
        replay_startup_subtracted=subtracted,
        replay_times="reported by the CLI" if own else "wall",
        replay_wall_s=full_wall,
        replay_events=len(payments),
    )


def _print_figures(f: dict[str, Any]) -> None:
    print("\nstage costs, µs per event (features = one Redis round trip per batch)")
    print(format_stages(f["stages_us_per_event"]))
    mem = f["redis_bytes"]
    print(
        f"backfill through the online store: {f['backfill_us_per_event']:,.1f} µs/event; Redis bytes "
        f"per card {mem['card']:,.0f}, per merchant {mem['merchant']:,.0f}, per event id {mem['event']:,.0f}"
    )
    print(
        f"worker: {f['worker_counted']:,} events in {f['worker_span_s']:.2f} s from first to last decision; "
        f"decode-only: {f['decode_only_counted']:,} in {f['decode_only_span_s']:.2f} s; "
        f"Redis CPU {f['redis_cpu_s']:.2f} s over {f['redis_nodes']} node(s) "
        f"(idle: {f['redis_idle_cpu_us_per_s']:,.0f} µs/s), "
        f"{f['redis_cpu_us_per_event_steady']:,.0f} µs/event at the steady rate"
    )
    print(
        f"latency (send → output arrival, {f['latency_events']:,} events): "
        f"worker max {f['latency_max_ms']:,.0f} ms; broker hop max {f['hop_max_ms']:,.0f} ms"
    )
    if "replay_events_per_s" in f:
        print(
            f"replay: {f['replay_events']:,} payments in {f['replay_s']:.1f} s, start-up "
            f"{f['replay_startup_s']:.1f} s {'' if f['replay_startup_subtracted'] else 'not '}subtracted "
            f"({f['replay_times']} times; {f['replay_wall_s']:.1f} s with Python's start; "
            "from an empty feature state, as replay requires; on its own private Redis, features in "
            f"memory; {f.get('replay_redis_url_events_per_s', 0):,.0f} events/s with --redis-url)"
        )
    if "worker_pg_events_per_s" in f:
        print(
            f"worker with decisions in PostgreSQL: {f['worker_pg_counted']:,} events in "
            f"{f['worker_pg_span_s']:.2f} s, {f['worker_pg_events_per_s']:,.0f} events/s against "
            f"{f['worker_events_per_s']:,.0f} without ({f['worker_pg_vs_redis']:.0%}; target ≥ 85%)"
        )
    if "api_lookup_p50_ms" in f:
        print(
            f"decision lookup (GET /v1/decisions/{{id}}) at {API_RATE:,.0f}/s: "
            f"p50 {f['api_lookup_p50_ms']:,.1f} ms, p99 {f['api_lookup_p99_ms']:,.1f} ms "
            f"({f['api_lookups']:,} requests)"
        )
    if "at_rest_sealed_us_per_event" in f:
        print(
            f"encryption at rest (AES-256-GCM), {f['at_rest_records']:,} stored records of "
            f"{f['at_rest_record_bytes']:,.0f} B ({f['at_rest_sealed_bytes']:,.0f} B sealed): write + read "
            f"{f['at_rest_sealed_us_per_event']:,.1f} µs/record vs {f['at_rest_plain_us_per_event']:,.1f} "
            f"plain; seal {f['at_rest_seal_us_per_event']:,.1f} µs, "
            f"open {f['at_rest_open_us_per_event']:,.1f} µs"
        )
    for name, why in f["errors"].items():
        print(f"note: {name}: {why}")
    print()
    print(format_table(summary_rows(f)))
    print(
        "ratio = value / peer. The peers ran in this run on the same broker, Redis and payments: the\n"
        "decode-only agent (the worker's Faust app and batches, orjson decode, one small record out per\n"
        "event) and a plain consume-and-forward (two broker hops, as a decision makes). Redis CPU's peer\n"
        "is the worker's wall time per event, so its ratio is the share of a core Redis was busy."
    )


def main(argv: Sequence[str] | None = None, prog: str = "python -m bench") -> int:
    opts = parse_args(argv, prog)
    try:
        run(opts)
    except NotAvailable as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
