"""`riskwire topics create`: the five topics, with partitions and replication from settings."""

from __future__ import annotations

import click


@click.group("topics")
def topics() -> None:
    """Kafka topics: create them before anything publishes (auto-creation is off in production)."""


@topics.command("create")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Partitions per topic [default: RISKWIRE_TOPIC_PARTITIONS].",
)
@click.option(
    "--replication",
    type=click.IntRange(min=1),
    default=None,
    help="Replication factor [default: RISKWIRE_TOPIC_REPLICATION].",
)
def create(partitions: int | None, replication: int | None) -> None:
    """Create the missing topics (idempotent: existing ones are left as they are)."""
    from contracts.settings import get_settings
    from stream.topics import ensure_topics, topic_names

    s = get_settings()
    update = {"topic_partitions": partitions or s.topic_partitions}
    update["topic_replication"] = replication or s.topic_replication
    s = s.model_copy(update=update)
    created = ensure_topics(s)
    for name in topic_names(s):
        state = "created" if name in created else "exists"
        click.echo(f"{name}: {state}")
    click.echo(
        f"{len(created)} created ({s.topic_partitions} partitions, replication {s.topic_replication}) "
        f"on {s.bootstrap}"
    )
