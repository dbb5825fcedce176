"""The Kafka security settings give Faust, aiokafka and confluent-kafka the same configuration."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from contracts.kafka_security import aiokafka_config, confluent_config, faust_credentials
from contracts.settings import Settings
from tests.security.tls import make_ca


def _faust_as_aiokafka(settings: Settings) -> dict[str, Any]:
    """What Faust's aiokafka driver passes to its consumers and producers."""
    derived = dict(credentials_to_aiokafka_auth(faust_credentials(settings)))
    return {k: v for k, v in derived.items() if v is not None}


def _auth_part(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "bootstrap_servers"}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_ca(tmp_path_factory.mktemp("kafka-ca"), "localhost")


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_the_three_clients_get_the_same_security(protocol: str, mechanism: str, ca: dict[str, Path]) -> None:
    settings = Settings(
        kafka_bootstrap="broker:9093",
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="riskwire",
        kafka_sasl_password="s3cret-pw",
        kafka_ssl_cafile=ca["ca"],
        kafka_ssl_certfile=ca["cert"],
        kafka_ssl_keyfile=ca["key"],
    )
    aio = aiokafka_config(settings)
    conf = confluent_config(settings)
    faust_side = _faust_as_aiokafka(settings)

    # Faust ends up with exactly the aiokafka settings (the TLS context compared by what it trusts).
    aio_context, faust_context = aio.pop("ssl_context", None), faust_side.pop("ssl_context", None)
    assert faust_side == _auth_part(aio)
    assert (aio_context is None) == (faust_context is None) == (protocol in ("PLAINTEXT", "SASL_PLAINTEXT"))
    if aio_context is not None:
        assert isinstance(aio_context, ssl.SSLContext) and isinstance(faust_context, ssl.SSLContext)
        assert aio_context.verify_mode == faust_context.verify_mode == ssl.CERT_REQUIRED
        assert aio_context.check_hostname and faust_context.check_hostname
        assert [c["subject"] for c in aio_context.get_ca_certs()] == [
            c["subject"] for c in faust_context.get_ca_certs()
        ]
        assert (("commonName", "riskwire test CA"),) in _subjects(aio_context)

    # librdkafka's spelling of the same choices.
    assert conf["bootstrap.servers"] == aio["bootstrap_servers"] == "broker:9093"
    assert conf["security.protocol"] == aio["security_protocol"] == protocol
    if "SASL" in protocol:
        assert conf["sasl.mechanism"] == aio["sasl_mechanism"] == mechanism
        assert conf["sasl.username"] == aio["sasl_plain_username"] == "riskwire"
        assert conf["sasl.password"] == aio["sasl_plain_password"] == "s3cret-pw"
    else:
        assert not any(k.startswith("sasl") for k in (*conf, *aio))
    if protocol.endswith("SSL"):
        assert conf["ssl.ca.location"] == str(ca["ca"])
        assert conf["ssl.certificate.location"] == str(ca["cert"])
        assert conf["ssl.key.location"] == str(ca["key"])
    else:
        assert not any(k.startswith("ssl") for k in conf)


def _subjects(context: ssl.SSLContext) -> list[Any]:
    return [rdn for c in context.get_ca_certs() for rdn in c["subject"]]


def test_the_password_is_secret_in_the_settings() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="s3cret-pw"
    )
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings.model_dump())


def test_sasl_without_credentials_is_refused_in_one_line() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="needs RISKWIRE_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u")


def test_extra_options_and_a_callers_bootstrap_win() -> None:
    settings = Settings(kafka_bootstrap="a:1")
    assert confluent_config(settings, bootstrap="b:2", **{"acks": "all"}) == {
        "bootstrap.servers": "b:2",
        "security.protocol": "PLAINTEXT",
        "acks": "all",
    }
    assert aiokafka_config(settings, bootstrap="b:2", acks="all")["bootstrap_servers"] == "b:2"


def test_every_client_in_the_code_is_built_from_the_settings() -> None:
    """No module builds a Kafka client from a bare bootstrap address any more (bench/ excepted:
    it measures the embedded plaintext broker)."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in root.glob("*/**/*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in (".venv", "tests", "bench", "var"):
            continue
        text = path.read_text()
        if '{"bootstrap.servers"' in text or "bootstrap_servers=" in text:
            offenders.append(str(rel))
    assert offenders == []


def test_the_worker_its_publisher_and_the_apis_producer_are_built_with_them(
    ca: dict[str, Path], tmp_path: Path
) -> None:
    import asyncio

    import faust

    from api.publisher import LabelPublisher
    from stream.app import create_app
    from stream.publisher import BatchPublisher

    settings = Settings(
        kafka_bootstrap="127.0.0.1:1",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="riskwire",
        kafka_sasl_password="s3cret-pw",
        kafka_ssl_cafile=ca["ca"],
        var_dir=tmp_path,
    )
    credentials = create_app(settings).conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.mechanism.value) == ("riskwire", "SCRAM-SHA-512")
    assert credentials.ssl_context is not None

    async def clients() -> list[Any]:
        batch = BatchPublisher(settings.bootstrap, security=settings)
        api = LabelPublisher(settings.bootstrap, "labels", timeout_s=1, probe_timeout_s=1, security=settings)
        out = [batch._producer.client]
        await batch.stop()
        return [*out, api]

    batch_client, api = asyncio.run(clients())
    assert batch_client._security_protocol == "SASL_SSL"
    assert batch_client._sasl_mechanism == "SCRAM-SHA-512"
    assert batch_client._sasl_plain_password == "s3cret-pw"
    assert batch_client._ssl_context is not None
    assert api._security is settings  # its producer is made on first use, from aiokafka_config
