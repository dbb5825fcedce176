"""`riskwire evaluate` against hand-computed values, plus the messy inputs real files bring.

Pure tests (no services): the metrics on a case small enough to derive on paper,
single-class days, duplicate and orphan decisions, the HTML report, and the
command end to end on a small simulated dataset scored by a trivial scorer.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

from cli.evaluate import evaluate as evaluate_cmd
from evaluation import build_dataset, card_precision_at_k, evaluate, format_table, write_html
from simulator import SimulationConfig, simulate, write_jsonl

# The hand-computed case: 6 events, 2 UTC days, 4 cards (A, B, C, D).
#
#   event card  occurred_at (UTC day)                     p    score decision truth
#   e1    A     2026-01-01T08:00:00Z          (day 1)     0.90  90   block    fraud (chargeback)
#   e2    B     2026-01-01T12:00:00+02:00     (day 1)     0.70  70   review   legit (labelled legit)
#   e3    C     2026-01-01T20:00:00Z          (day 1)     0.40  40   allow    fraud (legit label, then fraud)
#   e4    A     2026-01-01T23:30:00-01:00     (day 2: 00:30 UTC on Jan 2) 0.20 20 allow legit (unlabelled)
#   e5    D     2026-01-02T10:00:00Z          (day 2)     0.80  80   block    fraud
#   e6    C     2026-01-02T15:00:00Z          (day 2)     0.60  66   review   legit
#
# Overall, by p: .90 F, .80 F, .70 L, .60 L, .40 F, .20 L (3 frauds, 3 legit).
#   AUC = share of (fraud, legit) pairs ranked right: .90 beats 3, .80 beats 3, .40 beats 1 -> 7/9.
#   AP  = sum over frauds of precision at its rank x 1/3 recall: (1/1 + 2/2 + 3/5) / 3 = 13/15.
#   review (review or block): e1 F, e2 L, e5 F, e6 L -> precision 2/4, recall 2/3.
#   block: e1 F, e5 F -> precision 2/2, recall 2/3.
# Day 1: .90 F, .70 L, .40 F.
#   AUC: (.90 > .70) yes, (.40 > .70) no -> 1/2.  AP: (1/1 + 2/3) / 2 = 5/6.
#   review: e1 F, e2 L -> precision 1/2, recall 1/2.  block: e1 -> precision 1, recall 1/2.
#   cards by max p: A .90 (fraud), B .70 (legit), C .40 (fraud).
#   CP@1 = A -> 1/1.  CP@2 = A, B -> 1/2.  CP@4 = A, B, C -> 2/4 (only 3 cards: short of k).
# Day 2: .80 F, .60 L, .20 L.
#   AUC = 1, AP = 1.  review: e5 F, e6 L -> 1/2, recall 1/1.  block: e5 -> 1, recall 1.
#   cards: D .80 (fraud), C .60 (legit), A .20 (legit).  CP@1 = 1.  CP@2 = 1/2.  CP@4 = 1/4 (short).
# Overall CP@k is the mean of the days: CP@1 = 1, CP@2 = 1/2, CP@4 = (2/4 + 1/4) / 2 = 3/8.

ROWS = [
    ("e1", "A", "2026-01-01T08:00:00Z", 0.90, 90, "block"),
    ("e2", "B", "2026-01-01T12:00:00+02:00", 0.70, 70, "review"),
    ("e3", "C", "2026-01-01T20:00:00Z", 0.40, 40, "allow"),
    ("e4", "A", "2026-01-01T23:30:00-01:00", 0.20, 20, "allow"),
    ("e5", "D", "2026-01-02T10:00:00Z", 0.80, 80, "block"),
    ("e6", "C", "2026-01-02T15:00:00Z", 0.60, 66, "review"),
]
TRANSACTIONS = [
    {"event_id": e, "occurred_at": t, "amount": 10.0, "currency": "EUR", "card_id": c, "merchant_id": "m1"}
    for e, c, t, *_ in ROWS
]
DECISIONS = [
    {"event_id": e, "occurred_at": t, "risk_score": s, "probability": p, "decision": d}
    for e, _, t, p, s, d in ROWS
]
LABELS = [
    {"event_id": "e1", "label": "fraud", "reported_at": "2026-01-20T00:00:00Z", "source": "chargeback"},
    {"event_id": "e2", "label": "legit", "reported_at": "2026-01-02T00:00:00Z", "source": "review"},
    {"event_id": "e3", "label": "legit", "reported_at": "2026-01-02T00:00:00Z", "source": "review"},
    {"event_id": "e3", "label": "fraud", "reported_at": "2026-02-01T00:00:00Z", "source": "chargeback"},
    {"event_id": "e5", "label": "fraud", "reported_at": "2026-01-09T00:00:00Z", "source": "chargeback"},
]


def _check(actual: float | None, expected: float) -> None:
    assert actual == pytest.approx(expected, abs=1e-12)


def test_hand_computed_case() -> None:
    data = build_dataset(TRANSACTIONS, LABELS, DECISIONS)
    one, two = evaluate(data, k=1), evaluate(data, k=2)
    o = two.overall
    assert (o.events, o.frauds, o.cards, o.compromised_cards, o.flagged_review, o.flagged_block) == (
        6,
        3,
        4,
        3,
        4,
        2,
    )
    _check(o.auc_roc, 7 / 9)
    _check(o.average_precision, 13 / 15)
    _check(o.precision_review, 2 / 4)
    _check(o.recall_review, 2 / 3)
    _check(o.precision_block, 1.0)
    _check(o.recall_block, 2 / 3)
    _check(one.overall.card_precision_at_k, 1.0)
    _check(o.card_precision_at_k, 1 / 2)

    d1, d2 = two.days
    assert (d1.name, d2.name) == ("2026-01-01", "2026-01-02")  # e4 is on Jan 2 in UTC
    assert (d1.events, d1.frauds, d2.events, d2.frauds) == (3, 2, 3, 1)
    _check(d1.auc_roc, 1 / 2)
    _check(d1.average_precision, 5 / 6)
    _check(d1.precision_review, 1 / 2)
    _check(d1.recall_review, 1 / 2)
    _check(d1.precision_block, 1.0)
    _check(d1.recall_block, 1 / 2)
    _check(d2.auc_roc, 1.0)
    _check(d2.average_precision, 1.0)
    _check(d2.precision_review, 1 / 2)
    _check(d2.recall_review, 1.0)
    _check(d2.precision_block, 1.0)
    _check(d2.recall_block, 1.0)
    assert [d.card_precision_at_k for d in one.days] == [1.0, 1.0]
    assert [d.card_precision_at_k for d in two.days] == [0.5, 0.5]
    assert not two.overall.short_of_k

    four = evaluate(data, k=4)  # 3 cards each day: still divided by 4
    assert [(d.card_precision_at_k, d.short_of_k) for d in four.days] == [(2 / 4, True), (1 / 4, True)]
    _check(four.overall.card_precision_at_k, 3 / 8)
    assert four.overall.short_of_k
    assert "fewer than 4 cards" in format_table(four)


def test_hand_computed_values_agree_with_scikit_learn() -> None:
    # Guards the hand derivation above, not the code: same numbers from sklearn directly.
    truth = [1, 0, 1, 0, 1, 0]
    scores = [r[3] for r in ROWS]
    _check(roc_auc_score(truth, scores), 7 / 9)
    _check(average_precision_score(truth, scores), 13 / 15)


def test_card_precision_ties_and_exclusion() -> None:
    # A tie on the top score is broken by card id, so the result does not depend on input order.
    assert card_precision_at_k(["b", "a"], [0.5, 0.5], [False, True], k=1) == 1.0
    assert card_precision_at_k(["a", "b"], [0.5, 0.5], [True, False], k=1) == 1.0
    # Day 1: X .9 fraud, Y .5 legit.  Day 2: X .9 fraud, Y .5 legit, Z .4 fraud.  k = 1.
    # Plain: X tops both days -> 1, 1.  Excluding detected cards: X was caught on day 1, so day 2
    # ranks Y (.5, legit) first -> 0; mean 0.5.
    rows = [
        ("x1", "X", 1, 0.9),
        ("y1", "Y", 1, 0.5),
        ("x2", "X", 2, 0.9),
        ("y2", "Y", 2, 0.5),
        ("z2", "Z", 2, 0.4),
    ]
    txs = [{"event_id": e, "card_id": c, "occurred_at": f"2026-01-0{d}T10:00:00Z"} for e, c, d, _ in rows]
    decs = [{"event_id": e, "probability": p, "risk_score": 0, "decision": "allow"} for e, _, _, p in rows]
    labels = [{"event_id": e, "label": "fraud"} for e in ("x1", "x2", "z2")]
    data = build_dataset(txs, labels, decs)
    assert [d.card_precision_at_k for d in evaluate(data, k=1).days] == [1.0, 1.0]
    excluded = evaluate(data, k=1, exclude_detected_cards=True)
    assert [d.card_precision_at_k for d in excluded.days] == [1.0, 0.0]
    assert excluded.overall.card_precision_at_k == 0.5


def test_single_class_day_gives_none_not_a_crash() -> None:
    txs = [*TRANSACTIONS, {"event_id": "q1", "card_id": "A", "occurred_at": "2026-01-03T10:00:00Z"}]
    decs = [*DECISIONS, {"event_id": "q1", "probability": 0.3, "risk_score": 30, "decision": "allow"}]
    day3 = evaluate(build_dataset(txs, LABELS, decs), k=1).days[2]
    assert (day3.events, day3.frauds) == (1, 0)
    assert day3.auc_roc is None and day3.average_precision is None
    assert day3.recall_review is None and day3.precision_review is None  # no frauds, nothing flagged
    assert day3.card_precision_at_k == 0.0
    all_fraud = build_dataset(TRANSACTIONS[:1], LABELS[:1], DECISIONS[:1])
    result = evaluate(all_fraud)
    assert result.overall.auc_roc is None and result.overall.average_precision is None
    assert result.overall.recall_block == 1.0
    empty = evaluate(build_dataset([], [], []))
    assert empty.days == () and empty.overall.events == 0 and empty.overall.card_precision_at_k is None
    assert "overall" in format_table(empty)


def test_duplicates_unknown_events_and_bad_records_are_counted() -> None:
    redelivered = {**DECISIONS[0], "probability": 0.01, "decision": "allow"}  # disagrees: must be ignored
    decisions = [
        DECISIONS[0],
        redelivered,
        *DECISIONS[1:],
        DECISIONS[4],  # an identical redelivery
        {"event_id": "ghost", "probability": 0.5, "risk_score": 50, "decision": "allow"},
        {"event_id": "e1", "probability": 1.5, "risk_score": 50, "decision": "allow"},  # out of range
        None,  # an unreadable line
    ]
    labels = [*LABELS, {"event_id": "nobody", "label": "fraud"}, {"event_id": "e1", "label": "maybe"}]
    txs = [*TRANSACTIONS, TRANSACTIONS[0], {"event_id": "e9", "card_id": "A", "occurred_at": "2026-01-02"}]
    data = build_dataset(txs, labels, decisions)
    s = data.stats
    assert (s.decisions, s.duplicate_decisions, s.conflicting_duplicates, s.decisions_for_unknown_events) == (
        9,
        2,
        1,
        1,
    )
    assert s.skipped == {"transaction": 1, "label": 1, "decision": 2}  # e9 has no offset
    assert (s.transactions, s.duplicate_transactions, s.labels_for_unknown_events) == (7, 1, 1)
    assert s.events_without_decision == 0 and s.fraud_events == 3
    clean = evaluate(build_dataset(TRANSACTIONS, LABELS, DECISIONS), k=2)
    assert evaluate(data, k=2).overall == clean.overall  # the first record won
    notes = "\n".join(s.notes())
    assert "2 duplicate decisions" in notes and "1 decisions for events not in the transactions" in notes

    unscored = build_dataset(TRANSACTIONS, LABELS, DECISIONS[:4])
    assert unscored.stats.events_without_decision == 2 and len(unscored) == 4


def test_html_report_is_self_contained_with_four_plots(tmp_path: Path) -> None:
    data = build_dataset(TRANSACTIONS, LABELS, DECISIONS)
    path = write_html(tmp_path / "out" / "report.html", data, evaluate(data, k=2))
    text = path.read_text(encoding="utf-8")
    images = text.split('src="data:image/png;base64,')[1:]
    assert len(images) == 4
    for chunk in images:
        assert base64.b64decode(chunk.split('"', 1)[0]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "2026-01-02" in text and "CP@2" in text
    assert "http://" not in text and "https://" not in text  # nothing to fetch
    single = build_dataset(TRANSACTIONS[:1], LABELS[:1], DECISIONS[:1])  # one class: plots say so
    assert "one class only" not in text
    assert len(write_html(tmp_path / "single.html", single, evaluate(single)).read_text()) > 1000


def _trivial_decisions(transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A scorer that needs no model: probability = amount / largest amount."""
    top = max(t["amount"] for t in transactions)
    out = []
    for t in transactions:
        p = t["amount"] / top
        score = round(100 * p)
        decision = "block" if score >= 75 else "review" if score >= 65 else "allow"
        out.append({"event_id": t["event_id"], "occurred_at": t["occurred_at"], "risk_score": score,
                    "probability": p, "decision": decision})  # fmt: skip
    return out


def test_cli_end_to_end_on_simulated_data(tmp_path: Path) -> None:
    sim = simulate(SimulationConfig(days=3, cards=200, merchants=30))
    decisions = _trivial_decisions(sim.transactions)
    write_jsonl(tmp_path / "tx.jsonl", sim.transactions)
    write_jsonl(tmp_path / "labels.jsonl", sim.labels)
    write_jsonl(tmp_path / "decisions.jsonl", decisions + decisions[:5])  # at-least-once repeats
    args = ["--transactions", tmp_path / "tx.jsonl", "--labels", tmp_path / "labels.jsonl"]
    args += ["--decisions", tmp_path / "decisions.jsonl", "--k", "10"]
    args += ["--html", tmp_path / "r.html", "--json", tmp_path / "m.json"]
    result = CliRunner().invoke(evaluate_cmd, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "overall" in result.stdout and "CP@10" in result.stdout
    assert "5 duplicate decisions" in result.stdout

    metrics = json.loads((tmp_path / "m.json").read_text())
    assert len(metrics["days"]) == 3 and metrics["k"] == 10
    assert metrics["overall"]["events"] == len(sim.transactions)
    assert metrics["inputs"]["duplicate_decisions"] == 5
    fraud_ids = {lab["event_id"] for lab in sim.labels if lab["label"] == "fraud"}
    truth = [t["event_id"] in fraud_ids for t in sim.transactions]
    p = [d["probability"] for d in decisions]
    assert metrics["overall"]["frauds"] == sum(truth)
    assert metrics["overall"]["auc_roc"] == pytest.approx(roc_auc_score(truth, p))
    assert metrics["overall"]["average_precision"] == pytest.approx(average_precision_score(truth, p))
    assert all(0.0 <= d["card_precision_at_k"] <= 1.0 for d in metrics["days"])
    assert (tmp_path / "r.html").read_text().count("data:image/png;base64,") == 4


def test_cli_refuses_an_empty_join(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "tx.jsonl", TRANSACTIONS)
    write_jsonl(tmp_path / "labels.jsonl", LABELS)
    write_jsonl(
        tmp_path / "decisions.jsonl", [{**d, "event_id": "other-" + d["event_id"]} for d in DECISIONS]
    )
    args = [f"--{name}={tmp_path / f'{file}.jsonl'}" for name, file in
            (("transactions", "tx"), ("labels", "labels"), ("decisions", "decisions"))]  # fmt: skip
    result = CliRunner().invoke(evaluate_cmd, args)
    assert result.exit_code == 1
    assert "nothing to evaluate" in result.output and "6 decisions for events not in" in result.output
