"""Decode and validate raw transaction messages, never raising on bad input.

Every rejection carries a reason and a class, which become the dead-letter
headers ``error`` and ``error_class`` (DESIGN.md, topic ``dlq``).

>>> decode(b'{"amount": -1}', max_bytes=1024, now_ms=0, max_future_ms=0).error_class
'schema'
>>> decode(b'\\xff', max_bytes=1024, now_ms=0, max_future_ms=0).error_class
'encoding'
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from contracts.records import Label, Transaction

#: Transaction schema versions this code reads; absent means 1.
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})


@dataclass(frozen=True)
class Rejected:
    """A message that cannot be scored, and why."""

    error: str
    error_class: str


def _schema_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _json_object(raw: bytes | None, max_bytes: int) -> dict[str, object] | Rejected:
    """The message as a JSON object, or why it is not one (shared by events and labels)."""
    if raw is None:
        return Rejected("empty message (null value)", "encoding")
    if len(raw) > max_bytes:
        return Rejected(f"message of {len(raw)} bytes exceeds the {max_bytes}-byte limit", "size")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(f"not UTF-8: {exc.reason} at byte {exc.start}", "encoding")
    try:
        doc = orjson.loads(raw)  # several times faster; on any error the standard parser
    except orjson.JSONDecodeError:  # decides, so what is accepted and the messages stay
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            return Rejected(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "json")
    if not isinstance(doc, dict):
        return Rejected(f"expected a JSON object, got {type(doc).__name__}", "schema")
    return doc


def decode(raw: bytes | None, *, max_bytes: int, now_ms: int, max_future_ms: int) -> Transaction | Rejected:
    """A valid Transaction, or the reason it is not one."""
    doc = _json_object(raw, max_bytes)
    if isinstance(doc, Rejected):
        return doc
    version = doc.get("schema_version", 1)
    if type(version) is not int or version not in SUPPORTED_SCHEMA_VERSIONS:
        return Rejected(
            f"unknown schema_version {version!r}: this worker reads {sorted(SUPPORTED_SCHEMA_VERSIONS)}",
            "schema_version",
        )
    try:
        tx = Transaction.model_validate(doc)
    except ValidationError as exc:
        return Rejected(_schema_error(exc), "schema")
    if tx.occurred_ms > now_ms + max_future_ms:
        return Rejected(
            f"occurred_at {tx.occurred_at.isoformat()} is more than {max_future_ms // 1000} s in the future",
            "future_timestamp",
        )
    return tx


def decode_label(raw: bytes | None, *, max_bytes: int) -> Label | Rejected:
    """A valid Label, or the reason it is not one (the dead-letter headers).

    >>> decode_label(b'{"event_id": "e1", "label": "maybe"}', max_bytes=1024).error_class
    'schema'
    """
    doc = _json_object(raw, max_bytes)
    if isinstance(doc, Rejected):
        return doc
    try:
        return Label.model_validate(doc)
    except ValidationError as exc:
        return Rejected(_schema_error(exc), "schema")
