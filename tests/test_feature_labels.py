"""Pure unit tests of the features' label rules and event-time walk (no Redis):
``features.labels`` (which label of an event counts, its entries) and
``features.event_time`` (micro-batches, each preceded by the labels known by then)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.records import Label, Transaction
from features.batch import Merge, hash48, plan_batch
from features.event_time import in_event_time
from features.labels import LabelState, label_merges, merges_for, newer, newest_label
from store.identity import event_ref

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
