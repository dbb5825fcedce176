"""Creating riskwire's topics with the Kafka admin API (idempotent).

Partitions and replication come from settings (``RISKWIRE_TOPIC_PARTITIONS``,
``RISKWIRE_TOPIC_REPLICATION``); ``riskwire topics create`` runs this before anything
publishes, since a production broker has topic auto-creation off.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from contracts.errors import KafkaUnreachable, RiskwireError
from contracts.kafka_security import confluent_config
from contracts.settings import Settings


def topic_names(settings: Settings) -> list[str]:
    return [
        settings.topic_transactions,
        settings.topic_labels,
        settings.topic_scores,
        settings.topic_alerts,
        settings.topic_dlq,
    ]


def check_topics(settings: Settings, names: list[str], timeout: float = 10.0) -> None:
    """Raise unless the broker answers and has the topics ``names`` (before publishing)."""
    admin = AdminClient(confluent_config(settings, log_level=0))
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise KafkaUnreachable.at(settings.bootstrap, exc.args[0].str()) from exc
    if missing := [name for name in names if name not in existing]:
        raise RiskwireError(
            f"topics {', '.join(missing)} do not exist on {settings.bootstrap}: run `riskwire topics create`"
        )


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing topics; return the names created.

    Raises KafkaUnreachable (one line, once) when the broker does not answer.
    """
    # log_level 0: no librdkafka line per failed connect (hundreds in an outage).
    admin = AdminClient(confluent_config(settings, log_level=0))
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise KafkaUnreachable.at(settings.bootstrap, exc.args[0].str()) from exc
    wanted = [
        NewTopic(
            name,
            num_partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication,
        )
        for name in topic_names(settings)
        if name not in existing
    ]
    created = []
    if wanted:
        for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
            try:
                future.result(timeout)
                created.append(name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    return created
