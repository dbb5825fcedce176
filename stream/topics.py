"""Creating riskwire's topics with the Kafka admin API (idempotent)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

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


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing topics; return the names created."""
    admin = AdminClient(confluent_config(settings))
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1)
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
