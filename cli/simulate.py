"""``riskwire simulate``: write simulated transactions and labels to files or Kafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from simulator import Simulation

# The simulator's names, spelled out so that `--help` need not import numpy
# (tests/cli/test_cli_fast.py checks they match simulator.Pattern, DRIFTS, NEW_PATTERNS).
# The deterministic pattern has a threshold, not a rate or a switch (--amount-threshold).
PATTERNS = ["stolen_card", "card_testing", "compromised_merchant", "account_takeover", "cross_border"]
DRIFTS = ("new_pattern", "fraud_shift", "holiday")
NEW_PATTERNS = ("account_takeover", "cross_border")


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


def _parse_rates(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for item in value:
        name, _, number = item.partition("=")
        if name not in PATTERNS:
            raise click.BadParameter(f"{name!r} is not one of {', '.join(PATTERNS)}")
        try:
            rates[name] = float(number)
        except ValueError as exc:
            raise click.BadParameter(f"give PATTERN=RATE, e.g. stolen_card=0.002, not {item!r}") from exc
    return rates


def _parse_delay(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[float, float]:
    low, _, high = value.partition("-")
    try:
        delay = (float(low), float(high or low))
    except ValueError as exc:
        raise click.BadParameter(f"give DAYS or LOW-HIGH days, e.g. 7 or 1-60, not {value!r}") from exc
    if not 0 <= delay[0] <= delay[1]:
        raise click.BadParameter(f"need 0 <= LOW <= HIGH, not {value!r}")
    return delay


def _fraud_share(sim: Simulation, after: bool) -> str:
    assert sim.drift_at is not None
    rows = [
        t["event_id"]
        for t in sim.transactions
        if (datetime.fromisoformat(t["occurred_at"]) >= sim.drift_at) == after
    ]
    fraud = sum(event_id in sim.fraud_event_ids for event_id in rows)
    return f"{fraud / max(1, len(rows)):.2%} of {len(rows):,}"


def _summary(sim: Simulation, seconds: float) -> str:
    txs = sim.transactions
    if txs:
        first, last = (_utc(txs[i]["occurred_at"]) for i in (0, -1))
        span = f"{first} .. {last} UTC"
    else:
        span = "empty"
    legit_labels = sum(lab["label"] == "legit" for lab in sim.labels)
    text = (
        f"{len(txs):,} transactions, {len(sim.fraud_event_ids):,} fraud "
        f"({sim.fraud_rate:.2%}), {len(sim.labels):,} labels ({legit_labels:,} legit); "
        f"{span}; {seconds:.1f}s"
    )
    if sim.drift_at is not None:
        text += (
            f"\ndrift at {sim.drift_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC: fraud "
            f"{_fraud_share(sim, False)} before, {_fraud_share(sim, True)} after"
        )
    return text


class _Ticker:
    """Progress for long simulations: a line per 100,000 transactions rendered."""

    step = 100_000

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, n: int) -> None:
        before, self.done = self.done, self.done + n
        if before // self.step != self.done // self.step:
            click.echo(f"  {self.done:,} transactions ...", err=True)


Records = list[dict[str, Any]]


def _publish(records: Records, label: str, topic: str, key: str, rate: float | None) -> None:
    from contracts.settings import get_settings
    from simulator import publish

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
@click.option(
    "--truth",
    is_flag=True,
    help="Also write DIR/fraud_truth.txt (fraud event ids) and DIR/fraud_patterns.txt (id, pattern).",
)
@click.option("--publish", "to_kafka", is_flag=True, help="Publish to the Kafka topics.")
@click.option("--rate", type=float, help="Publish at this many transactions/s (default: max).")
@click.option(
    "--payments-per-card-day",
    type=float,
    default=1.8,
    show_default=True,
    help="Mean legit payments per card per day.",
)
@click.option(
    "--off",
    "off",
    type=click.Choice(PATTERNS),
    multiple=True,
    help="Switch a fraud pattern off (repeatable).",
)
@click.option(
    "--pattern-rate",
    "pattern_rates",
    metavar="PATTERN=RATE",
    multiple=True,
    callback=_parse_rates,
    help="Incidents per card-day (per merchant-day for compromised_merchant) of a "
    "pattern, e.g. stolen_card=0.002 (repeatable).",
)
@click.option(
    "--legit-label-share",
    type=float,
    default=0.03,
    show_default=True,
    help="Share of legit payments confirmed by a 'legit' label 0-3 days later.",
)
@click.option(
    "--drift",
    type=click.Choice(DRIFTS),
    help="Drift scenario from --drift-day on: new_pattern (--new-pattern appears), "
    "fraud_shift (card-not-present fraud moves to other merchant categories and IP "
    "countries), holiday (legit cards pay more, dearer, more online and abroad). "
    "Everything before the drift stays as without it.",
)
@click.option("--drift-day", type=float, help="Days after --start when the drift begins.")
@click.option(
    "--new-pattern",
    type=click.Choice(NEW_PATTERNS),
    default="account_takeover",
    show_default=True,
    help="The pattern a new_pattern drift introduces (absent before the drift).",
)
@click.option(
    "--new-pattern-rate",
    type=float,
    default=0.006,
    show_default=True,
    help="Incidents per card-day of the new pattern after the drift.",
)
@click.option(
    "--chargeback-delay",
    default="1-60",
    show_default=True,
    callback=_parse_delay,
    metavar="DAYS|LOW-HIGH",
    help="Days from a fraud to its chargeback: a fixed delay (7) or a right-skewed range (1-60).",
)
@click.option(
    "--chargeback-share",
    type=click.FloatRange(0, 1),
    default=0.85,
    show_default=True,
    help="Share of frauds that are ever charged back (the rest stay unlabelled).",
)
@click.option(
    "--amount-threshold",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Deterministic pattern: every payment above this amount is fraud (default: off).",
)
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
    payments_per_card_day: float,
    off: tuple[str, ...],
    pattern_rates: dict[str, float],
    legit_label_share: float,
    drift: str | None,
    drift_day: float | None,
    new_pattern: str,
    new_pattern_rate: float,
    chargeback_delay: tuple[float, float],
    chargeback_share: float,
    amount_threshold: float | None,
) -> None:
    """Simulate card payments with fraud, drift, delayed chargebacks and legit labels.

    Same options, same output, byte for byte. Transactions go to the
    transactions topic keyed by card_id, labels to the labels topic keyed by
    event_id (labels after all transactions; each label's reported_at says
    when it takes effect). Fraud patterns: stolen_card, card_testing,
    compromised_merchant, account_takeover, cross_border, and (with
    --amount-threshold) amount_threshold.

    A dataset for a drift baseline (batch model trained before day 14, online
    model adapting after it):

    \b
    riskwire simulate --days 28 --drift new_pattern --drift-day 14 --out data/drift
    """
    if out is None and not to_kafka:
        raise click.UsageError("give --out DIR, --publish, or both")
    if truth and out is None:
        raise click.UsageError("--truth needs --out DIR")
    if rate is not None and rate <= 0:
        raise click.BadParameter("must be > 0", param_hint="--rate")
    from contracts.settings import get_settings
    from simulator import SimulationConfig, write_jsonl
    from simulator import simulate as run_simulation

    if to_kafka:  # the broker and its topics are checked before the simulation's work
        from stream.topics import check_topics

        s = get_settings()
        check_topics(s, [s.topic_transactions, s.topic_labels])
    switches: dict[str, Any] = dict.fromkeys(off, False)
    switches |= {f"{name}_rate": value for name, value in pattern_rates.items()}
    try:
        config = SimulationConfig(
            seed=seed,
            start=start,
            days=days,
            cards=cards,
            merchants=merchants,
            payments_per_card_day=payments_per_card_day,
            legit_label_share=legit_label_share,
            drift=drift,
            drift_day=drift_day,
            new_pattern=new_pattern,
            new_pattern_rate=new_pattern_rate,
            label_delay_days=chargeback_delay,
            chargeback_share=chargeback_share,
            amount_threshold=amount_threshold,
            **switches,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    drifting = f", {drift} drift at day {drift_day:g}" if drift is not None and drift_day is not None else ""
    click.echo(f"simulating {cards:,} cards x {days:g} days (seed {seed}{drifting}) ...", err=True)
    began = time.perf_counter()
    sim = run_simulation(config, progress=_Ticker())
    if out is not None:
        write_jsonl(out / "transactions.jsonl", sim.transactions)
        write_jsonl(out / "labels.jsonl", sim.labels)
        if truth:
            ids = [t["event_id"] for t in sim.transactions if t["event_id"] in sim.fraud_event_ids]
            (out / "fraud_truth.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
            # The pattern of each fraud, for per-pattern quality (evaluation.quality).
            lines = "".join(f"{i} {sim.fraud_patterns[i]}\n" for i in ids)
            (out / "fraud_patterns.txt").write_text(lines, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    if to_kafka:
        settings = get_settings()
        _publish(sim.transactions, "transactions", settings.topic_transactions, "card_id", rate)
        _publish(sim.labels, "labels", settings.topic_labels, "event_id", None)
    click.echo(_summary(sim, time.perf_counter() - began))
