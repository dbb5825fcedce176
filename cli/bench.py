"""`riskwire bench`: the benchmarks of ``bench/`` (the same as `make bench`)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--events",
    type=int,
    default=30_000,
    show_default=True,
    help="Events pushed through the worker for the throughput figure.",
)
@click.option(
    "--rate",
    type=float,
    default=1_000.0,
    show_default=True,
    help="Steady publish rate (events/s) for the latency figure.",
)
@click.option("--seconds", type=float, default=20.0, show_default=True, help="Length of the latency run.")
def bench(events: int, rate: float, seconds: float) -> None:
    """Measure the feature, model and explanation stages and the worker end to end."""
    from bench.__main__ import run

    run(events=events, rate=rate, seconds=seconds)
