"""`riskwire services`: run the embedded Kafka broker and Redis until Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from types import FrameType

import click

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _check_external(kafka: str | None, redis_url: str | None) -> None:
    """Fail early when a configured external service does not answer."""
    from embedded import EmbeddedServiceError, ping_kafka, ping_redis
    from store.safe_url import redacted

    try:
        if kafka:
            ping_kafka(kafka, timeout=10.0)
            click.echo(f"Kafka: external at {kafka} (RISKWIRE_KAFKA_BOOTSTRAP) answers")
        if redis_url:
            ping_redis(redis_url, timeout=10.0)
            click.echo(f"Redis: external at {redacted(redis_url)} (RISKWIRE_REDIS_URL) answers")
    except EmbeddedServiceError as exc:
        raise click.ClickException(str(exc)) from exc


def _write_ready_file(path: Path, kafka: str, redis_url: str) -> None:
    """Publish the addresses atomically, so a waiting reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    payload = {"kafka_bootstrap": kafka, "redis_url": redis_url, "pid": os.getpid()}
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


@click.command("services")
@click.option(
    "--kafka-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the embedded broker [default: RISKWIRE_EMBEDDED_KAFKA_PORT]; 0 = any free.",
)
@click.option(
    "--redis-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the embedded Redis [default: RISKWIRE_EMBEDDED_REDIS_PORT]; 0 = any free.",
)
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
def services(kafka_port: int | None, redis_port: int | None, ready_file: Path | None) -> None:
    """Start the embedded Kafka broker (Tansu) and Redis on loopback and keep them up.

    A service configured with RISKWIRE_KAFKA_BOOTSTRAP or RISKWIRE_REDIS_URL is only
    checked, not started. Stop with Ctrl-C or SIGTERM; the services keep no data.
    """
    from contracts.settings import Settings  # lazy, like every verb: keeps --help fast
    from embedded import EmbeddedServiceError, EmbeddedServices
    from store.safe_url import redacted

    settings = Settings()
    _check_external(settings.kafka_bootstrap, settings.redis_url)
    if settings.kafka_bootstrap and settings.redis_url:
        click.echo("External services are configured; nothing to start.")
        if ready_file:
            _write_ready_file(ready_file, settings.kafka_bootstrap, settings.redis_url)
        return

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in _STOP_SIGNALS}
    embedded = EmbeddedServices(
        kafka_port=settings.embedded_kafka_port if kafka_port is None else kafka_port,
        redis_port=settings.embedded_redis_port if redis_port is None else redis_port,
        workdir=settings.var_dir / "services",
        with_kafka=settings.kafka_bootstrap is None,
        with_redis=settings.redis_url is None,
    )
    try:
        embedded.start()
        kafka = settings.kafka_bootstrap or embedded.kafka_bootstrap
        redis_url = settings.redis_url or embedded.redis_url
        if settings.kafka_bootstrap is None:
            click.echo(f"Kafka: embedded Tansu at {kafka} (log {embedded.kafka_log})")
        if settings.redis_url is None:
            click.echo(f"Redis: embedded at {redacted(redis_url)} (log {embedded.redis_log})")
        click.echo(f"export RISKWIRE_KAFKA_BOOTSTRAP={kafka} RISKWIRE_REDIS_URL={redacted(redis_url)}")
        click.echo("Press Ctrl-C to stop.")
        if ready_file:
            _write_ready_file(ready_file, kafka, redis_url)
        while not stop.wait(0.5):
            if crashed := embedded.exited():
                raise click.ClickException(
                    f"{', '.join(crashed)} exited unexpectedly; see the logs in "
                    f"{settings.var_dir / 'services'}"
                )
    except EmbeddedServiceError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        embedded.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Stopped.")


if __name__ == "__main__":
    services()
