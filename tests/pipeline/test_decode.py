"""Decoding raw messages: every rejection has a class and a reason naming the field.

Pure logic: no services. The classes become the dead-letter ``error_class`` header.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.records import Transaction
from pipeline.decode import Rejected, decode

NOW_MS = 1_767_261_600_000  # 2026-01-01T10:00:00Z, by hand
FUTURE_MS = 24 * 3_600_000
LIMIT = 64 * 1024

VALID: dict[str, Any] = {
    "event_id": "evt-1",
    "occurred_at": "2026-01-01T10:00:00+01:00",
    "amount": 12.5,
    "currency": "EUR",
    "card_id": "card-1",
    "merchant_id": "mer-1",
}


def run(raw: bytes | None, *, max_bytes: int = LIMIT, max_future_ms: int = FUTURE_MS):
    return decode(raw, max_bytes=max_bytes, now_ms=NOW_MS, max_future_ms=max_future_ms)


def doc(**changes: Any) -> bytes:
    return json.dumps({**VALID, **changes}).encode()


def rejected(result: object, error_class: str, *names: str) -> Rejected:
    assert isinstance(result, Rejected), result
    assert result.error_class == error_class, result
    for name in names:
        assert name in result.error, result
    return result


def test_valid_event_decodes():
    t = run(doc())
    assert isinstance(t, Transaction)
    assert (t.event_id, t.amount, t.currency, t.card_id, t.merchant_id) == (
        "evt-1",
        12.5,
        "EUR",
        "card-1",
        "mer-1",
    )
    assert t.occurred_ms == NOW_MS - 3_600_000  # 10:00+01:00 is 09:00Z
    assert t.model_extra == {}


def test_integer_amount_is_a_number():
    t = run(doc(amount=12))
    assert isinstance(t, Transaction) and t.amount == 12.0


def test_unknown_top_level_fields_are_kept():
    t = run(doc(loyalty_tier="gold", nested={"a": [1, 2]}, score=0.5))
    assert isinstance(t, Transaction)
    assert t.model_extra == {"loyalty_tier": "gold", "nested": {"a": [1, 2]}, "score": 0.5}


# --- encoding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{}", b'{"event_id": "\xc3\x28"}', b'{"card_id": "\xed\xa0\x80"}'],
    ids=["bad-start-byte", "bad-continuation", "encoded-surrogate"],
)
def test_invalid_utf8_is_an_encoding_error(raw):
    rejected(run(raw), "encoding", "UTF-8")


def test_null_message_is_an_encoding_error():
    rejected(run(None), "encoding", "null")


# --- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"{", b'{"amount": 1,}', b"{'a': 1}", b"not json"])
def test_not_json(raw):
    rejected(run(raw), "json", "not JSON")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"[]", "list"), (b'[{"event_id": "e"}]', "list"), (b'"x"', "str"), (b"12", "int"), (b"null", "None")],
)
def test_json_that_is_not_an_object(raw, kind):
    rejected(run(raw), "schema", "JSON object", kind)


# --- schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(VALID))
def test_missing_required_field(field):
    body = {k: v for k, v in VALID.items() if k != field}
    rejected(run(json.dumps(body).encode()), "schema", field, "required")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "12.5"),
        ("amount", True),
        ("amount", None),
        ("amount", {"value": 12.5}),
        ("card_id", 123),
        ("merchant_id", 7.0),
        ("event_id", 42),
        ("event_id", ""),
        ("currency", 978),
        ("occurred_at", True),
    ],
)
def test_wrong_types_are_rejected_not_coerced(field, value):
    rejected(run(doc(**{field: value})), "schema", field)


@pytest.mark.parametrize(
    "value",
    [1_767_261_600, 1_767_261_600_000, 1_767_261_600.5, "1767261600"],
    ids=["int-seconds", "int-millis", "float-seconds", "numeric-string"],
)
def test_epoch_numbers_are_not_rfc3339_timestamps(value):
    """DESIGN.md: occurred_at is RFC 3339 with offset; records.py: wrong JSON types are not coerced."""
    rejected(run(doc(occurred_at=value)), "schema", "occurred_at")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_amount(literal):
    raw = doc(amount=0).replace(b'"amount": 0', b'"amount": ' + literal)
    assert literal in raw
    rejected(run(raw), "schema", "amount", "finite")


@pytest.mark.parametrize("value", [0, 0.0, -0.0, -0.01, -12.5])
def test_amount_must_be_positive(value):
    rejected(run(doc(amount=value)), "schema", "amount", "greater than 0")


@pytest.mark.parametrize("value", ["2026-01-01T10:00:00", "2026-01-01T10:00:00.123", "2026-01-01"])
def test_naive_timestamp(value):
    rejected(run(doc(occurred_at=value)), "schema", "occurred_at", "timezone")


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T10:00:00Z", ""])
def test_unparseable_timestamp(value):
    rejected(run(doc(occurred_at=value)), "schema", "occurred_at")


@pytest.mark.parametrize("value", ["eur", "EURO", "EU", "€UR", "", "E1R"])
def test_bad_currency(value):
    rejected(run(doc(currency=value)), "schema", "currency")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "web"),
        ("card_country", "de"),
        ("ip_country", "DEU"),
        ("mcc", "54111"),
        ("attributes", {"nested": {"a": 1}}),
    ],
)
def test_bad_optional_fields(field, value):
    rejected(run(doc(**{field: value})), "schema", field)


def test_many_errors_are_summarised():
    result = rejected(run(b"{}"), "schema", "event_id", "occurred_at", "amount")
    assert "and 1 more" in result.error  # six required fields, five listed


# --- size -----------------------------------------------------------------------------------


def test_oversized_payload_is_refused_at_the_limit_plus_one():
    raw = doc(padding="x" * 2000)
    assert isinstance(run(raw, max_bytes=len(raw)), Transaction)
    result = rejected(run(raw, max_bytes=len(raw) - 1), "size", str(len(raw)), str(len(raw) - 1))
    assert "limit" in result.error


def test_size_is_checked_before_decoding():
    raw = b"\xff" * 100
    rejected(run(raw, max_bytes=99), "size", "100")


# --- event time -----------------------------------------------------------------------------


def test_far_future_timestamp():
    # NOW + 24 h exactly is allowed; one millisecond more is not.
    at_limit = "2026-01-02T10:00:00Z"
    assert isinstance(run(doc(occurred_at=at_limit)), Transaction)
    result = rejected(run(doc(occurred_at="2026-01-02T10:00:00.001Z")), "future_timestamp", "occurred_at")
    assert "86400 s" in result.error
    rejected(run(doc(occurred_at="2030-01-01T00:00:00+14:00")), "future_timestamp", "occurred_at")


def test_offset_counts_for_the_future_check():
    # 2026-01-02T11:00+02:00 is 09:00Z, within the 24 h allowance; in UTC it would not be.
    assert isinstance(run(doc(occurred_at="2026-01-02T11:00:00+02:00")), Transaction)
    rejected(run(doc(occurred_at="2026-01-02T11:00:00Z")), "future_timestamp")


def test_old_events_are_accepted():
    assert isinstance(run(doc(occurred_at="2019-06-30T23:59:59-07:00")), Transaction)


@pytest.mark.parametrize("value", [1e12 + 1, 1e300])
def test_absurd_amounts_are_rejected(value):
    """Past any real payment, an amount would only overflow the features (sums, ratios)."""
    rejected(run(doc(amount=value)), "schema", "amount", "less than or equal")
