"""Decoding: the schema version gate, the shape of schema error messages, and labels.

Pure logic: no services."""

from __future__ import annotations

import json

import pytest

from contracts.records import Label, LabelKind, Transaction
from pipeline.decode import Rejected, decode, decode_label
from tests.pipeline.test_decode import LIMIT, NOW_MS, VALID, doc, run


@pytest.mark.parametrize("version", [2, 0, "1", True, 1.0, None])
def test_only_known_integer_schema_versions_are_read(version):
    got = run(doc(schema_version=version))
    assert got == Rejected(f"unknown schema_version {version!r}: this worker reads [1]", "schema_version")


def test_schema_version_1_and_its_absence_are_read():
    assert isinstance(run(doc(schema_version=1)), Transaction)
    assert isinstance(run(doc()), Transaction)


def test_schema_errors_are_joined_and_the_rest_counted():
    got = run(json.dumps({"schema_version": 1}).encode())
    assert isinstance(got, Rejected) and got.error_class == "schema"
    parts = got.error.split("; ")
    assert parts[0].startswith("event_id: ")
    assert len(parts) == 6 and parts[-1].startswith("and ") and parts[-1].endswith(" more")
    two = run(doc(amount="x", currency=5))
    assert isinstance(two, Rejected)
    assert two.error.count("; ") == 1 and "more" not in two.error


def test_exactly_five_errors_have_no_tail():
    body = {k: v for k, v in VALID.items() if k not in ("event_id", "amount", "currency", "card_id")}
    got = run(json.dumps({**body, "occurred_at": 5}).encode())
    assert isinstance(got, Rejected)
    assert got.error.count("; ") == 4 and "more" not in got.error


def test_a_null_message_says_so():
    assert run(None) == Rejected("empty message (null value)", "encoding")


def test_labels_decode_or_name_the_bad_field():
    raw = json.dumps(
        {"event_id": "e1", "label": "fraud", "reported_at": "2026-01-01T10:00:00Z", "source": "bank"}
    ).encode()
    label = decode_label(raw, max_bytes=LIMIT)
    assert isinstance(label, Label) and label.label is LabelKind.FRAUD and label.event_id == "e1"
    bad = decode_label(b'{"event_id": "e1", "label": "maybe"}', max_bytes=LIMIT)
    assert isinstance(bad, Rejected) and bad.error.startswith("label: ")
    assert decode_label(None, max_bytes=LIMIT) == Rejected("empty message (null value)", "encoding")


def test_decode_uses_the_clock_it_is_given():
    assert isinstance(decode(doc(), max_bytes=LIMIT, now_ms=NOW_MS, max_future_ms=0), Transaction)
