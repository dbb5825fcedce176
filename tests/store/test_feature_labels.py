"""Pure unit tests of the features' label rules and event-time walk (no Redis):
``features.labels`` (which label of an event counts, its entries) and
``features.event_time`` (micro-batches, each preceded by the labels known by then)."""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np

from contracts.identity import event_ref
from contracts.records import Label, Transaction
from features.aggregates import RAW_FIELDS, RAW_INDEX
from features.batch import Merge, hash48, plan_batch
from features.catalogue import FEATURE_NAMES, FEATURES
from features.event_time import in_event_time
from features.labels import LabelState, label_merges, merges_for, newer, newest_label
from features.vectorize import vectorize

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def tx(event_id: str, minutes: float, account: str | None = None, card: str = "c1") -> Transaction:
    return Transaction(
        event_id=event_id,
        occurred_at=T0 + timedelta(minutes=minutes),
        amount=1.0,
        currency="EUR",
        card_id=card,
        merchant_id="m1",
        account_id=account,
    )


def lab(event_id: str, minutes: float, kind: str = "fraud", account: str | None = None) -> Label:
    return Label(
        event_id=event_id,
        label=kind,
        reported_at=T0 + timedelta(minutes=minutes),
        source="chargeback",
        account_id=account,
    )


# --- features.labels --------------------------------------------------------------------------


def test_a_label_state_is_its_kind_and_report_time_in_milliseconds() -> None:
    ms = int(T0.timestamp() * 1000)
    assert LabelState.of(lab("e", 0.0005)).reported_ms == ms + 30
    assert LabelState.of(lab("e", 1, "legit")) == LabelState(False, ms + 60_000)
    assert LabelState(True, 5).text == "fraud 5" and LabelState(False, 7).text == "legit 7"
    assert LabelState.parse("legit 7") == LabelState(False, 7)
    assert LabelState.parse(b"fraud 12") == LabelState(True, 12)


def test_the_later_label_counts_and_fraud_wins_a_tie() -> None:
    fraud5, legit5, legit6 = LabelState(True, 5), LabelState(False, 5), LabelState(False, 6)
    assert newer(fraud5, None) and newer(legit5, None)
    assert newer(legit6, fraud5) and not newer(fraud5, legit6)
    assert newer(fraud5, legit5) and not newer(legit5, fraud5)
    assert not newer(fraud5, fraud5) and not newer(legit5, legit5)


def test_the_newest_of_the_recorded_and_the_pending_label() -> None:
    a, b = b"legit 5", b"fraud 9"
    assert newest_label(None, None) is None
    assert newest_label(a, None) == a and newest_label(None, b) == b
    assert newest_label(a, b) == b and newest_label(b, a) == b
    assert newest_label(b"fraud 5", b"legit 5") == b"fraud 5"
    assert newest_label(b"legit 5", b"fraud 5") == b"fraud 5"
    assert newest_label(b"fraud 5", b"fraud 5") == b"fraud 5"


def test_a_label_gives_one_entry_to_the_events_card_and_one_to_its_merchant() -> None:
    t = tx("e1", 10, account="acme", card="card-9")
    plan = plan_batch([tx("e0", 0), t])
    card, merchant = int(plan.ent[1, 0]), int(plan.ent[1, 2])
    named = len(plan.entities)
    h = hash48(event_ref("acme", "e1"))
    assert label_merges(plan, 1, t, "fraud 77") == [
        Merge(card, 1, h, t.occurred_ms, 77, True),
        Merge(merchant, 1, h, t.occurred_ms, 77, True),
    ]
    assert len(plan.entities) == named  # the event's own entities, not new ones
    # Entities the plan does not name yet are added to it.
    empty = plan_batch([])
    assert merges_for(empty, -1, "ref", "c-new", "m-new", 42, LabelState(False, 3)) == [
        Merge(0, -1, hash48("ref"), 42, 3, False),
        Merge(1, -1, hash48("ref"), 42, 3, False),
    ]
    assert empty.entities == [(0, "c-new"), (2, "m-new")]
    assert merges_for(plan_batch([]), 0, "ref", "c", "m", 1, b"legit 4")[0].reported_ms == 4


# --- features.event_time ----------------------------------------------------------------------


def walk(txs: list[Transaction], labels: list[Label], batch: int) -> list[tuple[list[str], list[str]]]:
    return [
        ([x.event_id for x in due], [t.event_id for t in b]) for due, b in in_event_time(txs, labels, batch)
    ]


def test_events_in_time_order_stable_labels_at_the_batch_that_first_sees_them() -> None:
    txs = [tx("late", 30), tx("a", 0), tx("tie1", 10), tx("tie2", 10), tx("b", 20)]
    labels = [lab("L20", 20), lab("L0", 0), lab("L-1", -1), lab("L25", 25), lab("L99", 99)]
    assert walk(txs, labels, 2) == [
        (["L-1", "L0"], ["a", "tie1"]),  # a label reported at the batch's first event is due
        ([], ["tie2", "b"]),
        (["L20", "L25"], ["late"]),  # the last, shorter batch; L99 comes after every event
    ]
    assert walk(txs, labels, 10) == [(["L-1", "L0"], ["a", "tie1", "tie2", "b", "late"])]
    assert walk(txs, labels, 1)[2] == ([], ["tie2"])
    assert walk([], labels, 2) == []


# --- features.vectorize on crafted raw aggregates ----------------------------------------------


def _vector(rows: list[tuple[Transaction, dict[str, float]]]) -> tuple[list[dict[str, float]], np.ndarray]:
    raw = np.full((len(rows), len(RAW_FIELDS)), np.nan)
    for i, (_, fields) in enumerate(rows):
        for name, v in fields.items():
            raw[i, RAW_INDEX[name]] = v
    with warnings.catch_warnings():  # 0 / 0 and the like are NaN, silently
        warnings.simplefilter("error", RuntimeWarning)
        m = vectorize([t for t, _ in rows], raw)
    return [dict(zip(FEATURE_NAMES, row.tolist(), strict=True)) for row in m.values], m.complete


def _pay(day: int, amount: float, card: str | None, merchant: str | None, ip: str | None) -> Transaction:
    # 2026-03-06 is a Friday: day 0 Friday, 1 Saturday, 2 Sunday, 3 Monday.
    return Transaction(
        event_id=f"v{day}",
        occurred_at=datetime(2026, 3, 6 + day, 23, 59, tzinfo=UTC),
        amount=amount,
        currency="EUR",
        card_id="c",
        merchant_id="m",
        card_country=card,
        merchant_country=merchant,
        ip_country=ip,
    )


def test_the_derived_features_of_crafted_aggregates() -> None:
    old = {"history_since_ms": 0.0, "late": 0.0}
    two = {  # two earlier payments of 10 and 30 EUR in 30 days, one of them fraud
        **old,
        "card_n_30d": 2.0,
        "card_u_30d": 40 * 10_000.0,
        "card_cents2_30d": 1000.0**2 + 3000.0**2,
        "card_fraud_30d": 1.0,
        "card_n_7d": 4.0,
        "card_fraud_7d": 1.0,
        "merchant_n_7d": 0.0,
        "merchant_fraud_7d": 0.0,
        "card_merchants_24h": 3.0,
    }
    one = {**old, "card_n_30d": 1.0, "card_u_30d": 20 * 10_000.0, "card_cents2_30d": 2000.0**2}
    flat = {**old, "card_n_30d": 2.0, "card_u_30d": 40 * 10_000.0, "card_cents2_30d": 2 * 2000.0**2}
    none = {**old, "card_n_30d": 0.0, "card_u_30d": 0.0, "card_cents2_30d": 0.0, "late": 1.0}
    rows, complete = _vector(
        [
            (_pay(0, 50.0, "FR", "DE", "FR"), two),
            (_pay(1, 50.0, None, "DE", "DE"), one),
            (_pay(2, 50.0, "FR", None, "NL"), flat),
            (_pay(3, 50.0, "FR", "FR", None), none),
        ]
    )
    a, b, c, d = rows
    assert [r["is_weekend"] for r in rows] == [0.0, 1.0, 1.0, 0.0]
    assert [r["amount"] for r in rows] == [50.0] * 4
    nan = math.nan
    mismatches = [
        (
            r["card_merchant_country_mismatch"],
            r["card_ip_country_mismatch"],
            r["merchant_ip_country_mismatch"],
        )
        for r in rows
    ]
    assert str(mismatches) == str([(1.0, 0.0, 1.0), (nan, nan, 0.0), (nan, 1.0, nan), (0.0, nan, nan)])
    assert (a["card_count_30d"], a["card_amount_sum_30d"], a["card_distinct_merchants_24h"]) == (
        2.0,
        40.0,
        3.0,
    )
    # avg 20, population std 10: 50 EUR is 2.5× the average, 3 standard deviations above.
    assert (a["card_amount_avg_30d"], a["card_amount_std_30d"]) == (20.0, 10.0)
    assert (a["amount_to_card_avg_30d"], a["amount_zscore_card_30d"]) == (2.5, 3.0)
    assert (a["card_fraud_rate_30d"], a["card_fraud_rate_7d"], a["card_fraud_count_7d"]) == (0.5, 0.25, 1.0)
    assert math.isnan(a["merchant_fraud_rate_7d"])  # no payments: no rate
    # One payment: an average, no spread; the same amounts twice: a spread of 0, no z-score.
    assert b["card_amount_avg_30d"] == 20.0 and math.isnan(b["card_amount_std_30d"])
    assert math.isnan(b["amount_zscore_card_30d"])
    assert c["card_amount_std_30d"] == 0.0 and math.isnan(c["amount_zscore_card_30d"])
    assert all(math.isnan(d[f]) for f in ("card_amount_avg_30d", "amount_to_card_avg_30d"))
    windowed = [i for i, f in enumerate(FEATURES) if f.window_ms is not None]
    assert complete[0].all() and complete[1].all()
    assert not complete[3][windowed].any()  # a late event: no window is complete
    assert complete[3][[i for i, f in enumerate(FEATURES) if f.window_ms is None]].all()
