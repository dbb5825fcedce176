"""The root of riskwire's expected failures, so that a caller catches one type.

Every error a user can cause or fix (bad input, a service down, a missing model) is a
``RiskwireError``; anything else is a bug. The command line prints an expected failure
as one line (exit code 2 for a usage error, 1 otherwise; ``--debug`` shows the
traceback), the API answers it with a 4xx/503 and a message.

::

    RiskwireError                     root: an expected failure, with a message saying what to do
    ├── UsageError                    bad arguments or input files (CLI exit code 2)
    ├── ServiceUnreachable            a service does not answer (CLI exit code 1)
    │   ├── KafkaUnreachable          "Kafka at HOST:PORT unreachable"
    │   └── RedisUnreachable          "Redis at URL unreachable"
    ├── models.errors.ModelError      the model registry
    │   ├── ModelNotFoundError        no such version, or no model trained yet
    │   └── ModelIntegrityError       an artefact fails its manifest check
    ├── embedded.EmbeddedServiceError an embedded broker or Redis cannot start or answer
    ├── simulator.PublishError        simulated records not delivered to Kafka
    └── rules.RuleSyntaxError         a rule that cannot be compiled (also a ValueError)

>>> issubclass(KafkaUnreachable, ServiceUnreachable) and issubclass(UsageError, RiskwireError)
True
>>> str(KafkaUnreachable.at("127.0.0.1:9"))
'Kafka at 127.0.0.1:9 unreachable: start it (riskwire services) or set RISKWIRE_KAFKA_BOOTSTRAP'
"""

from __future__ import annotations


class RiskwireError(Exception):
    """Root of every expected riskwire failure; its message says what to do."""

    exit_code = 1


class UsageError(RiskwireError):
    """Bad arguments or input: the caller must change the command."""

    exit_code = 2


class ServiceUnreachable(RiskwireError):
    """Kafka or Redis does not answer."""


class KafkaUnreachable(ServiceUnreachable):
    @classmethod
    def at(cls, bootstrap: str, detail: str = "") -> KafkaUnreachable:
        why = f" ({detail})" if detail else ""
        return cls(
            f"Kafka at {bootstrap} unreachable{why}: start it (riskwire services) "
            "or set RISKWIRE_KAFKA_BOOTSTRAP"
        )


class RedisUnreachable(ServiceUnreachable):
    @classmethod
    def at(cls, where: str, detail: str = "") -> RedisUnreachable:
        why = f" ({detail})" if detail else ""
        return cls(
            f"Redis at {where} unreachable{why}: start it (riskwire services) or set RISKWIRE_REDIS_URL"
        )
