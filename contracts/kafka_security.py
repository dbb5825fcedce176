"""One place that turns the Kafka security settings into each client's configuration.

Faust, aiokafka and confluent-kafka spell the same thing three ways; every client
riskwire builds (the worker, its publisher, the API's label publisher, producers,
admin clients, probes) gets its settings from here, so a TLS or SASL setting can
never reach one client and miss another. Secrets stay ``SecretStr`` until this
module hands them to a client.

>>> s = Settings(kafka_bootstrap="k:9092")
>>> confluent_config(s)
{'bootstrap.servers': 'k:9092', 'security.protocol': 'PLAINTEXT'}
>>> aiokafka_config(s)
{'bootstrap_servers': 'k:9092', 'security_protocol': 'PLAINTEXT'}
>>> faust_credentials(s) is None
True
"""

from __future__ import annotations

import ssl
from typing import Any

from contracts.settings import Settings

__all__ = ["aiokafka_config", "confluent_config", "faust_credentials", "ssl_context"]


def _uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def _uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def _password(settings: Settings) -> str:
    secret = settings.kafka_sasl_password
    return secret.get_secret_value() if secret is not None else ""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for aiokafka and Faust (None without TLS): verifies the broker."""
    if not _uses_tls(settings):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if settings.kafka_ssl_certfile is not None:
        keyfile = str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None
        context.load_cert_chain(str(settings.kafka_ssl_certfile), keyfile)
    return context


def confluent_config(settings: Settings, *, bootstrap: str | None = None, **extra: Any) -> dict[str, Any]:
    """librdkafka's properties for a Producer, Consumer or AdminClient.

    ``bootstrap`` overrides the settings' address (a broker the caller started);
    ``extra`` is merged in (client id, acks, ...).
    """
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap or settings.bootstrap,
        "security.protocol": settings.kafka_security_protocol,
    }
    if _uses_sasl(settings):
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username or ""
        config["sasl.password"] = _password(settings)
    if _uses_tls(settings):
        if settings.kafka_ssl_cafile is not None:
            config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile is not None:
            config["ssl.certificate.location"] = str(settings.kafka_ssl_certfile)
        if settings.kafka_ssl_keyfile is not None:
            config["ssl.key.location"] = str(settings.kafka_ssl_keyfile)
    return {**config, **extra}


def aiokafka_config(settings: Settings, *, bootstrap: str | None = None, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaProducer`` / ``AIOKafkaConsumer``, as :func:`confluent_config`."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap or settings.bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if _uses_sasl(settings):
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username or ""
        config["sasl_plain_password"] = _password(settings)
    if (context := ssl_context(settings)) is not None:
        config["ssl_context"] = context
    return {**config, **extra}


def faust_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for ``faust.App`` (None for PLAINTEXT).

    Faust hands these to aiokafka itself; the unit test checks that what it derives
    equals :func:`aiokafka_config`.
    """
    import faust  # the worker's dependency; imported here so producers need not load it
    from faust.types.auth import SASLMechanism

    if _uses_sasl(settings):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=_password(settings),
            mechanism=SASLMechanism(settings.kafka_sasl_mechanism),
            ssl_context=ssl_context(settings),
        )
    if (context := ssl_context(settings)) is not None:
        return faust.SSLCredentials(context)
    return None
