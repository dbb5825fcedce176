"""The decision record's feature vector (pipeline/record_shapes.py) on crafted rows, no
services: written by ``vector_blocks``, read back by the API and the label learner."""

from __future__ import annotations

import math

import numpy as np
import orjson

from features.catalogue import FEATURE_NAMES
from pipeline.record_shapes import (
    VECTOR_KEY,
    catalogue_id,
    expand_features,
    explain_context,
    feature_row,
    vector_names,
)
from pipeline.record_shapes import vector_blocks as blocks

N = len(FEATURE_NAMES)


def _records(values: np.ndarray, complete: np.ndarray, currencies: list[str]) -> list[dict]:
    out = blocks(values, complete, currencies, (3, 2))
    return [{"event_id": f"e{i}", VECTOR_KEY: orjson.loads(orjson.dumps(b))} for i, b in enumerate(out)]


def test_the_vector_reads_back_value_by_value_with_its_completeness() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(size=(3, N)).round(3)
    values[0, 5] = values[2, N - 1] = np.nan
    complete = np.ones((3, N), dtype=bool)
    complete[0, [0, 9, 17]] = False  # bits in the first, second and third byte
    complete[1, N - 1] = False
    records = _records(values, complete, ["EUR", "USD", "GBP"])
    assert blocks(values[:0], complete[:0], [], (3, 2)) == []
    for i, record in enumerate(records):
        assert vector_names(record) is FEATURE_NAMES
        got = expand_features(record)
        assert list(got) == list(FEATURE_NAMES)
        assert [got[n]["complete"] for n in FEATURE_NAMES] == complete[i].tolist()
        want = [None if math.isnan(v) else v for v in values[i].tolist()]
        assert [got[n]["value"] for n in FEATURE_NAMES] == want
        row = feature_row(record)
        assert row.dtype == np.float64
        np.testing.assert_array_equal(row, values[i])
        picked = [FEATURE_NAMES[7], "not a feature", FEATURE_NAMES[0]]
        np.testing.assert_array_equal(feature_row(record, picked), [values[i, 7], np.nan, values[i, 0]])
    assert [explain_context(r, (9, 9)) for r in records] == [("EUR", 3, 2), ("USD", 3, 2), ("GBP", 3, 2)]


def test_a_vector_of_an_older_catalogue_is_read_with_the_models_names() -> None:
    names = ("amount", "local_hour", "gone_feature")
    record = {VECTOR_KEY: {"catalogue": catalogue_id(names), "values": [12.5, 3, None], "incomplete": "02"}}
    assert vector_names(record) is None and vector_names(record, FEATURE_NAMES) is None
    assert vector_names(record, names) == names
    assert expand_features(record) == {}
    assert expand_features(record, names) == {
        "amount": {"value": 12.5, "complete": True},
        "local_hour": {"value": 3, "complete": False},
        "gone_feature": {"value": None, "complete": True},
    }
    assert np.isnan(feature_row(record)).all()  # not this catalogue's: every feature unknown


def test_missing_parts_read_as_complete_unknown_or_the_defaults() -> None:
    values = [float(i) for i in range(N)]
    bare = {VECTOR_KEY: {"catalogue": catalogue_id(), "values": values}}
    got = expand_features(bare)
    assert all(f["complete"] for f in got.values()) and got[FEATURE_NAMES[-1]]["value"] == N - 1
    short = {VECTOR_KEY: {**bare[VECTOR_KEY], "incomplete": "01"}}  # one byte for 8 features
    flags = [f["complete"] for f in expand_features(short).values()]
    assert flags == [False] + [True] * (N - 1)
    assert explain_context(bare, (4, 1)) == ("", 4, 1)
    assert explain_context({"event_id": "e"}, (2, 0)) == ("", 2, 0)
    assert explain_context({VECTOR_KEY: {"currency": "EUR", "reason_counts": [1, 1]}}, (2, 0)) == (
        "EUR",
        1,
        1,
    )
    old = {"features": {"amount": {"value": 7, "complete": True}, "local_hour": {"value": True}}}
    assert expand_features(old) == old["features"] and expand_features(old) is not old["features"]
    row = feature_row(old, ["amount", "local_hour", "is_weekend"])
    np.testing.assert_array_equal(row, [7.0, np.nan, np.nan])  # a bool is no number
    assert expand_features({"features": "junk"}) == {} and vector_names({"features": {}}) is None
