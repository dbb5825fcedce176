"""Checks that a Kafka broker or Redis really answers, not merely that a port is open.

The client libraries are imported on first use: importing them costs ~0.1 s, which
every `riskwire --help` would otherwise pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from embedded.errors import EmbeddedServiceError

if TYPE_CHECKING:
    from contracts.settings import Settings


def ping_kafka(bootstrap: str, timeout: float = 5.0, security: Settings | None = None) -> None:
    """Raise unless the broker at bootstrap answers a metadata request within timeout.

    ``security``: the settings whose Kafka TLS/SASL to use (the environment's by default).
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from contracts.kafka_security import confluent_config
    from contracts.settings import get_settings

    # log_level 0: no librdkafka line per failed connect; the error below says it once.
    admin = AdminClient(confluent_config(security or get_settings(), bootstrap=bootstrap, log_level=0))
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise EmbeddedServiceError(f"Kafka at {bootstrap} does not answer: {exc}") from exc


def ping_redis(url: str, timeout: float = 5.0) -> None:
    """Raise unless the Redis at url answers PING within timeout."""
    import redis

    from store.connect import sync_client
    from store.safe_url import redacted

    # A plain client on purpose: PING answers on any node, a cluster's too.
    client = sync_client(url, cluster=False, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise EmbeddedServiceError(f"Redis at {redacted(url)} does not answer: {exc}") from exc
    finally:
        client.close()
