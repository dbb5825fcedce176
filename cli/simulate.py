"""``riskwire simulate``: write simulated transactions and labels to files or Kafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from contracts.settings import get_settings
from simulator import Simulation, SimulationConfig, publish, write_jsonl
from simulator import simulate as run_simulation


def _parse_start(_ctx: click.Context, _param: click.Parameter, value: str) -> datetime:
    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an RFC 3339 time: {value!r}") from exc
    if start.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2026-01-01T00:00:00Z")
    return start


def _utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _summary(sim: Simulation, seconds: float) -> str:
    txs = sim.transactions
    if txs:
        first, last = (_utc(txs[i]["occurred_at"]) for i in (0, -1))
        span = f"{first} .. {last} UTC"
    else:
        span = "empty"
    return (
        f"{len(txs):,} transactions, {len(sim.fraud_event_ids):,} fraud "
        f"({sim.fraud_rate:.2%}), {len(sim.labels):,} labels; {span}; {seconds:.1f}s"
    )


class _Ticker:
    """Progress for long simulations: a line per 250,000 transactions rendered."""

    step = 250_000

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, n: int) -> None:
        before, self.done = self.done, self.done + n
        if before // self.step != self.done // self.step:
            click.echo(f"  {self.done:,} transactions ...", err=True)


Records = list[dict[str, Any]]


def _publish(records: Records, label: str, topic: str, key: str, rate: float | None) -> None:
    server = get_settings().bootstrap
    with click.progressbar(length=len(records), label=f"{label} -> {topic}") as bar:
        tick = bar.update
        publish(records, bootstrap=server, topic=topic, key_field=key, rate=rate, progress=tick)


@click.command("simulate")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option("--days", type=float, default=28.0, show_default=True, help="Days to simulate.")
@click.option("--cards", type=int, default=2000, show_default=True, help="Number of cards.")
@click.option("--merchants", type=int, default=300, show_default=True, help="Number of merchants.")
@click.option(
    "--start",
    default="2026-01-01T00:00:00+00:00",
    show_default=True,
    callback=_parse_start,
    help="Start of the window (RFC 3339, with offset).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/transactions.jsonl and DIR/labels.jsonl.",
)
@click.option("--truth", is_flag=True, help="Also write DIR/fraud_truth.txt (fraud event ids).")
@click.option("--publish", "to_kafka", is_flag=True, help="Publish to the Kafka topics.")
@click.option("--rate", type=float, help="Publish at this many transactions/s (default: max).")
def simulate(
    seed: int,
    days: float,
    cards: int,
    merchants: int,
    start: datetime,
    out: Path | None,
    truth: bool,
    to_kafka: bool,
    rate: float | None,
) -> None:
    """Simulate card payments with fraud and delayed chargeback labels.

    Same options, same output, byte for byte. Transactions go to the
    transactions topic keyed by card_id, labels to the labels topic keyed by
    event_id (labels after all transactions; each label's reported_at says
    when it takes effect).
    """
    if out is None and not to_kafka:
        raise click.UsageError("give --out DIR, --publish, or both")
    if truth and out is None:
        raise click.UsageError("--truth needs --out DIR")
    if rate is not None and rate <= 0:
        raise click.BadParameter("must be > 0", param_hint="--rate")
    try:
        config = SimulationConfig(
            seed=seed,
            start=start,
            days=days,
            cards=cards,
            merchants=merchants,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    click.echo(f"simulating {cards:,} cards x {days:g} days (seed {seed}) ...", err=True)
    began = time.perf_counter()
    sim = run_simulation(config, progress=_Ticker())
    if out is not None:
        write_jsonl(out / "transactions.jsonl", sim.transactions)
        write_jsonl(out / "labels.jsonl", sim.labels)
        if truth:
            ids = [t["event_id"] for t in sim.transactions if t["event_id"] in sim.fraud_event_ids]
            (out / "fraud_truth.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    if to_kafka:
        settings = get_settings()
        _publish(sim.transactions, "transactions", settings.topic_transactions, "card_id", rate)
        _publish(sim.labels, "labels", settings.topic_labels, "event_id", None)
    click.echo(_summary(sim, time.perf_counter() - began))
