"""`riskwire demo`: the whole engine on embedded services, with a live summary.

Simulates history, trains on it, backfills the feature store, starts the
worker and the API as child processes, streams the next days of simulated
payments into ``transactions`` and shows what comes out of ``scores``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from contracts.settings import Settings

HISTORY_DAYS = 42  # chargebacks take 1-60 days: six weeks leave a model something to learn
STREAM_DAYS = 21


class DemoError(click.ClickException):
    pass


def _child(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"the API exited early:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise DemoError(f"the API did not answer at {url}:\n{_tail(log)}")


def _wait_log(log: Path, marker: bytes, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (log.exists() and marker in log.read_bytes()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise DemoError(f"the worker did not become ready:\n{_tail(log)}")
        time.sleep(0.2)


def _print_example(record: dict[str, Any], api_url: str, secret: str) -> None:
    click.echo(
        f"\nriskiest decision: {record['event_id']}  score {record['risk_score']} "
        f"({record['risk_level']}, {record['decision']})"
    )
    if record.get("explained") is False:
        click.echo("  (an allowed payment: the API computes its reasons when it is looked up)")
    for reason in record["reasons"]:
        sign = "+" if reason["contribution"] > 0 else "-"  # raised / lowered the risk
        click.echo(f"  {sign} {reason['text']}  [{reason['feature']}, {reason['contribution']:+.2f}]")
    click.echo(
        f"\nfetch it (with the demo's analyst key):\n  curl -s -H 'Authorization: Bearer {secret}' "
        f"{api_url}/v1/decisions/{record['event_id']}"
    )


@click.command()
@click.option(
    "--seconds",
    type=float,
    default=None,
    envvar="DEMO_SECONDS",
    help="Stop by itself after streaming this long (env DEMO_SECONDS); default: until Ctrl-C.",
)
@click.option(
    "--rate",
    type=float,
    default=400.0,
    show_default=True,
    help="Payments published per second (one worker keeps up with about 4,000/s on 2 cores).",
)
@click.option("--cards", type=int, default=1200, show_default=True)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None)
def demo(seconds: float | None, rate: float, cards: int, workdir: Path | None) -> None:
    """Run everything on embedded services and show live decisions (Ctrl-C ends it)."""
    import asyncio

    import httpx

    from cli.backfill import backfill
    from cli.demo_summary import ScoreReader, ScoreTally
    from cli.train import train_model
    from contracts.settings import Settings, get_settings
    from embedded import EmbeddedServices
    from embedded.postgres import EmbeddedPostgres
    from simulator import SimulationConfig, publish, simulate, write_jsonl
    from store.database import upgrade
    from store.safe_url import redacted
    from stream.topics import ensure_topics

    base = get_settings()
    work = (workdir or base.var_dir / "demo").resolve()
    work.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    # Explicit handlers: a demo started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    with ExitStack() as cleanup:
        env = dict(os.environ)
        if base.kafka_bootstrap and base.redis_url:
            click.echo(f"using Kafka at {base.kafka_bootstrap} and Redis at {redacted(base.redis_url)}")
            bootstrap, redis_url = base.kafka_bootstrap, base.redis_url
        else:
            click.echo("starting the embedded Kafka broker (Tansu) and Redis (Valkey) ...")
            services = EmbeddedServices(workdir=work / "services").start()
            cleanup.callback(services.stop)
            bootstrap = base.kafka_bootstrap or services.kafka_bootstrap
            redis_url = base.redis_url or services.redis_url
        # Decision records in PostgreSQL (issue 18): the configured one, else an embedded one
        # beside the embedded broker and Redis (with external Kafka and Redis: Redis keeps them).
        database_url = base.database_url.get_secret_value() if base.database_url else None
        if database_url is None and not (base.kafka_bootstrap and base.redis_url):
            click.echo("starting the embedded PostgreSQL (decision records) ...")
            postgres = EmbeddedPostgres(workdir=work / "postgres").start()
            cleanup.callback(postgres.stop)
            database_url = postgres.url
        if database_url is not None:
            asyncio.run(upgrade(database_url))
            env["RISKWIRE_DATABASE_URL"] = database_url
        api_port = _free_port()
        env.update(
            RISKWIRE_KAFKA_BOOTSTRAP=bootstrap,
            RISKWIRE_REDIS_URL=redis_url,
            RISKWIRE_MODEL_DIR=str(work / "models"),
            RISKWIRE_VAR_DIR=str(work),
            RISKWIRE_WORKER_WEB_PORT=str(_free_port()),
        )
        settings = Settings(
            kafka_bootstrap=bootstrap, redis_url=redis_url, model_dir=work / "models", var_dir=work
        )

        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        config = SimulationConfig(
            start=today - timedelta(days=HISTORY_DAYS + STREAM_DAYS + 1),
            days=HISTORY_DAYS + STREAM_DAYS,
            cards=cards,
        )
        click.echo(
            f"simulating {HISTORY_DAYS} days of history, {STREAM_DAYS} more to stream ({cards:,} cards)"
        )
        sim = simulate(config)
        cut = config.start + timedelta(days=HISTORY_DAYS)
        history = [t for t in sim.transactions if datetime.fromisoformat(t["occurred_at"]) < cut]
        live = sim.transactions[len(history) :]
        # Only what was known at the cut: labels reported since are still to come.
        known = [lab for lab in sim.labels if datetime.fromisoformat(lab["reported_at"]) < cut]
        write_jsonl(work / "history_transactions.jsonl", history)
        write_jsonl(work / "history_labels.jsonl", known)
        frauds = sum(lab["label"] == "fraud" for lab in known)
        click.echo(
            f"history: {len(history):,} payments; {frauds:,} chargebacks and "
            f"{len(known) - frauds:,} confirmed-legit labels reported by {cut:%Y-%m-%d}"
        )
        train_model(
            work / "history_transactions.jsonl",
            work / "history_labels.jsonl",
            work / "models",
            seed=7,
            cutoff=cut,
        )
        ensure_topics(settings)
        backfill(work / "history_transactions.jsonl", redis_url, work / "history_labels.jsonl")

        worker_log, api_log = work / "worker.log", work / "api.log"
        worker = _child(["cli", "worker"], env, worker_log)
        cleanup.callback(_stop, worker)
        api = _child(["cli", "api", "--port", str(api_port)], env, api_log)
        cleanup.callback(_stop, api)
        api_url = f"http://127.0.0.1:{api_port}"
        _wait_http(f"{api_url}/healthz", api, api_log)
        secret, admin = _console_keys(settings, api_url)

        _wait_log(worker_log, b"Worker]: Ready", worker, timeout=60)
        reader = ScoreReader(bootstrap, settings.topic_scores, settings.topic_partitions)
        cleanup.callback(reader.close)
        tally = ScoreTally()
        reader.poll_into(tally, 0.5)
        publisher = threading.Thread(
            target=_publish_until,
            args=(publish, live, bootstrap, settings.topic_transactions, rate, stop),
            daemon=True,
        )
        publisher.start()
        # Labels reported during the streamed days follow at the stream's pace, so the
        # worker's label agent learns from them as they "arrive".
        later = [lab for lab in sim.labels if datetime.fromisoformat(lab["reported_at"]) >= cut]
        span_s = (datetime.fromisoformat(live[-1]["occurred_at"]) - cut).total_seconds() if live else 1.0
        feedback = threading.Thread(
            target=_publish_labels_in_pace,
            args=(publish, later, cut, span_s / (len(live) / rate), bootstrap, settings.topic_labels, stop),
            daemon=True,
        )
        feedback.start()
        click.echo(
            f"streaming {len(live):,} payments at {rate:,.0f}/s, and their labels as they are reported; "
            f"worker log: {worker_log}; "
            f"metrics: http://127.0.0.1:{env['RISKWIRE_WORKER_WEB_PORT']}/metrics\n"
        )
        try:
            while not stop.is_set():
                reader.poll_into(tally, 2.0)
                click.echo(tally.line())
                if worker.poll() is not None:
                    raise DemoError(f"the worker exited:\n{_tail(worker_log)}")
                if seconds is not None and time.monotonic() - tally.started >= seconds:
                    break
        except KeyboardInterrupt:
            click.echo("\nstopping ...")
        stop.set()
        if tally.example is None:
            raise DemoError(f"no decisions arrived on {settings.topic_scores}:\n{_tail(worker_log)}")
        fetched = httpx.get(
            f"{api_url}/v1/decisions/{tally.example['event_id']}",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=5,
        )
        if fetched.status_code != 200:
            raise DemoError(f"the API answered {fetched.status_code} for the example decision")
        _print_example(tally.example, api_url, secret)
        blend = httpx.get(
            f"{api_url}/v1/models/current", headers={"Authorization": f"Bearer {admin}"}, timeout=5
        ).json()
        click.echo(
            f"\nonline model {blend.get('online_version')}: "
            f"{blend.get('online_learned', 0):,} labels learned, "
            f"{blend.get('labels_pending', 0):,} waiting for their payment, "
            f"blend weight {blend.get('online_weight', 0.0):.2f}"
        )
        lv = tally.levels
        click.echo(
            f"\nsummary: {tally.total:,} decisions for {len(tally.event_ids):,} distinct payments in "
            f"{time.monotonic() - tally.started:.0f} s ({tally.mean_rate():,.0f} events/s); "
            f"normal {lv['normal']:,}, elevated {lv['elevated']:,}, highest {lv['highest']:,}"
        )
        lat = sorted(tally.latencies)
        p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
        click.echo(f"pipeline latency in the worker: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


#: The model alone sends no payment to review today (issue 12), so the demo adds this rule
#: through the rules API: the queue then fills honestly, with the stream's large payments.
DEMO_REVIEW_RULE = "review if :amount: > 1000"


def _console_keys(settings: Settings, api_url: str) -> tuple[str, str]:
    """Analyst and admin keys for the console (printed ready to paste), and the demo's review rule."""
    import httpx

    from store.key_admin import create_key

    _, analyst = create_key(settings, "analyst", name="demo")
    _, admin = create_key(settings, "admin", name="demo-admin")
    added = httpx.post(
        f"{api_url}/v1/rules", json={"text": DEMO_REVIEW_RULE}, headers={"Authorization": f"Bearer {admin}"}
    )
    if added.status_code != 201:
        raise DemoError(f"the API refused the demo's review rule: {added.status_code} {added.text}")
    click.echo(
        f"\nanalyst console: {api_url}/ui/  (paste a key to sign in)\n"
        f"  analyst key: {analyst}\n"
        f"  admin key (rules, models, audit log): {admin}\n"
        f"  demo rule {DEMO_REVIEW_RULE!r} puts the stream's large payments in the review queue\n"
    )
    return analyst, admin


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _publish_until(
    publish: Any,
    records: list[dict[str, Any]],
    bootstrap: str,
    topic: str,
    rate: float,
    stop: threading.Event,
) -> None:
    def until_stopped() -> Any:
        for r in records:
            if stop.is_set():
                return
            yield r

    publish(until_stopped(), bootstrap=bootstrap, topic=topic, key_field="card_id", rate=rate)


def _publish_labels_in_pace(
    publish: Any,
    labels: list[dict[str, Any]],
    cut: datetime,
    speedup: float,
    bootstrap: str,
    topic: str,
    stop: threading.Event,
) -> None:
    """Publish each label when the stream's simulated clock reaches its ``reported_at``."""
    started = time.monotonic()

    def when_due() -> Any:
        for lab in labels:
            due = (datetime.fromisoformat(lab["reported_at"]) - cut).total_seconds() / speedup
            if stop.wait(max(0.0, started + due - time.monotonic())):
                return
            yield lab

    publish(when_due(), bootstrap=bootstrap, topic=topic, key_field="event_id")


def _free_port() -> int:
    from embedded import free_port

    return free_port()
