"""Expected failures of any verb → one line and an exit code (2: usage, 1: runtime).

A ``RiskwireError`` carries its own message and exit code; a few failures of the
libraries underneath are expected too (Redis or Kafka down, a file that cannot be
written) and are translated here. Anything else is a bug: one line that says so, and
the traceback with ``--debug``.
"""

from __future__ import annotations

import sys

import click

from contracts.errors import RiskwireError


class OneLine(click.ClickException):
    """A click exception with our exit code; click prints it as ``Error: message``."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(exc: BaseException) -> OneLine:
    """The message and exit code for an exception that escaped a verb."""
    if isinstance(exc, RiskwireError):
        return OneLine(_first_line(exc), exc.exit_code)
    expected = _library_failure(exc)
    if expected is not None:
        return OneLine(expected, 1)
    return OneLine(
        f"unexpected {type(exc).__name__}: {_first_line(exc)} (a bug: rerun with --debug "
        "for the traceback and report it)",
        1,
    )


def _library_failure(exc: BaseException) -> str | None:
    # Imported only when something failed: redis and confluent_kafka are slow to import.
    import redis
    from confluent_kafka import KafkaError, KafkaException

    from contracts.errors import KafkaUnreachable, RedisUnreachable

    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        detail = "timed out" if isinstance(exc, redis.TimeoutError) else "connection refused"
        return str(RedisUnreachable.at(_redis_where(exc), detail))
    if isinstance(exc, redis.AuthenticationError | redis.ResponseError):
        return f"Redis refused: {_first_line(exc)}"
    if isinstance(exc, KafkaException):
        err = exc.args[0] if exc.args else None
        if err is not None and hasattr(err, "code") and err.code() in _kafka_down(KafkaError):
            from contracts.settings import get_settings

            return str(KafkaUnreachable.at(get_settings().bootstrap, err.str()))
        return f"Kafka: {_first_line(exc)}"
    psycopg = sys.modules.get("psycopg")  # only when a verb used PostgreSQL: not imported here
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return f"PostgreSQL refused: {_first_line(exc)}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    return None


def _redis_where(exc: BaseException) -> str:
    # redis-py says "Error 111 connecting to HOST:PORT. Connection refused.": keep HOST:PORT.
    text = str(exc)
    if " connecting to " in text:
        return text.split(" connecting to ", 1)[1].split(". ", 1)[0].rstrip(".")
    from contracts.settings import get_settings

    return get_settings().redis


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _kafka_down(codes: type) -> set[int]:
    return {codes._TRANSPORT, codes._ALL_BROKERS_DOWN, codes._TIMED_OUT}  # type: ignore[attr-defined]
