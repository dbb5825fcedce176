"""Account takeover, cross-border use, and the drift scenarios.

The drift tests check the strongest property the simulator offers: a run with a
drift is, before the drift, the very same dataset as the run without it
(transactions and the labels of those transactions), and differs after it in
the way the scenario says.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.simulate import simulate as simulate_cli
from contracts.records import Label, Transaction
from simulator import Simulation, SimulationConfig, read_jsonl, simulate

BASE = SimulationConfig(seed=9, days=12, cards=1500, merchants=150)
DRIFT_DAY = 6.0
SHIFT_MCCS = {"7995", "4722", "4121", "5942"}
SHIFT_IP_COUNTRIES = {"CN", "TR", "MX", "PK"}
CARD_NOT_PRESENT = {"stolen_card", "card_testing", "account_takeover"}

Record = dict[str, Any]


def _when(record: Record, key: str = "occurred_at") -> datetime:
    return datetime.fromisoformat(record[key])


def _index(event_id: str) -> str:
    """The event's position: ids differ between configs only by the config digest."""
    return event_id.rsplit("_", 1)[1]


def _anon(record: Record) -> Record:
    return {**record, "event_id": _index(record["event_id"])}


def _before(s: Simulation, at: datetime) -> tuple[list[Record], list[Record]]:
    """Transactions before ``at`` and the labels of those transactions (ids anonymised)."""
    txs = [_anon(t) for t in s.transactions if _when(t) < at]
    ids = {t["event_id"] for t in txs}
    labels = [_anon(lab) for lab in s.labels if _index(lab["event_id"]) in ids]
    return txs, labels


def _pattern(s: Simulation, t: Record) -> str:
    return s.fraud_patterns.get(t["event_id"], "legit")


@pytest.fixture(scope="module")
def runs() -> dict[str, Simulation]:
    out = {"none": simulate(BASE), "no_takeover": simulate(replace(BASE, account_takeover=False))}
    for drift in ("new_pattern", "fraud_shift", "holiday"):
        out[drift] = simulate(replace(BASE, drift=drift, drift_day=DRIFT_DAY))
    return out


def _drift_at() -> datetime:
    return BASE.start + timedelta(days=DRIFT_DAY)


def test_account_takeover_uses_a_new_device_from_home_at_amounts_far_above_the_card(
    sim: Simulation,
) -> None:
    seen_devices: dict[str, set[str]] = defaultdict(set)
    seen_emails: dict[str, set[str]] = defaultdict(set)
    amounts: dict[str, list[float]] = defaultdict(list)
    takeovers: list[tuple[Record, bool, float]] = []
    for t in sim.transactions:  # in time order: "seen" means seen before this payment
        card = t["card_id"]
        if _pattern(sim, t) == "account_takeover":
            median = statistics.median(amounts[card]) if amounts[card] else 0.0
            takeovers.append((t, t["email"] not in seen_emails[card], median))
            assert t["device_id"] not in seen_devices[card]
            assert t["ip_country"] == t["card_country"]
        elif t["event_id"] not in sim.fraud_event_ids:
            seen_devices[card].add(t["device_id"])
            seen_emails[card].add(t["email"])
            amounts[card].append(t["amount"])
    assert len(takeovers) >= 50
    new_email = sum(new for _, new, _ in takeovers) / len(takeovers)
    assert 0.6 <= new_email <= 0.95
    with_history = [(t["amount"], m) for t, _, m in takeovers if m > 0]
    assert sum(a > 4 * m for a, m in with_history) >= 0.9 * len(with_history)


def test_cross_border_is_in_person_abroad_in_one_country_within_hours(sim: Simulation) -> None:
    trips: dict[str, list[Record]] = defaultdict(list)
    for t in sim.transactions:
        if _pattern(sim, t) == "cross_border":
            trips[t["card_id"]].append(t)
    assert len(trips) >= 15
    for txs in trips.values():
        assert {t["channel"] for t in txs} <= {"pos", "atm"}
        assert len({t["merchant_country"] for t in txs}) == 1
        assert all(t["merchant_country"] != t["card_country"] for t in txs)
        assert all(t["ip_country"] == t["merchant_country"] for t in txs)
        assert _when(txs[-1]) - _when(txs[0]) <= timedelta(hours=12)
    legit = [t for t in sim.transactions if t["event_id"] not in sim.fraud_event_ids]
    abroad = sum(t["merchant_country"] != t["card_country"] and t["channel"] == "pos" for t in legit)
    assert abroad < 0.03 * len(legit)


def test_new_patterns_switch_off(runs: dict[str, Simulation]) -> None:
    off = simulate(replace(BASE, account_takeover=False, cross_border=False))
    assert not {"account_takeover", "cross_border"} & set(off.fraud_patterns.values())
    assert "account_takeover" not in runs["no_takeover"].fraud_patterns.values()
    assert "account_takeover" in runs["none"].fraud_patterns.values()


def test_drift_runs_are_deterministic_and_valid(runs: dict[str, Simulation]) -> None:
    for drift in ("new_pattern", "fraud_shift", "holiday"):
        s = runs[drift]
        assert s.drift_at == _drift_at()
        assert s == simulate(replace(BASE, drift=drift, drift_day=DRIFT_DAY))
        for t in s.transactions:
            Transaction.model_validate(t)
        for lab in s.labels:
            Label.model_validate(lab)
        reported = [_when(lab, "reported_at") for lab in s.labels]
        assert reported == sorted(reported)
    assert runs["none"].drift_at is None


@pytest.mark.parametrize("drift", ["new_pattern", "fraud_shift", "holiday"])
def test_before_the_drift_nothing_changes(runs: dict[str, Simulation], drift: str) -> None:
    base = runs["no_takeover" if drift == "new_pattern" else "none"]
    before, labels = _before(runs[drift], _drift_at())
    assert len(before) > 10_000
    assert (before, labels) == _before(base, _drift_at())
    # ... and after it, something does.
    assert runs[drift].transactions[len(before) :] != base.transactions[len(before) :]


def test_new_pattern_appears_at_the_drift_and_is_strong(runs: dict[str, Simulation]) -> None:
    s, at = runs["new_pattern"], _drift_at()
    takeovers = [t for t in s.transactions if _pattern(s, t) == "account_takeover"]
    assert takeovers and min(_when(t) for t in takeovers) >= at
    after = [t for t in s.transactions if _when(t) >= at]
    fraud_after = [t for t in after if t["event_id"] in s.fraud_event_ids]
    assert len(takeovers) >= 0.2 * len(fraud_after)
    cross = simulate(replace(BASE, drift="new_pattern", drift_day=DRIFT_DAY, new_pattern="cross_border"))
    first = min(_when(t) for t in cross.transactions if _pattern(cross, t) == "cross_border")
    assert first >= at


def test_fraud_shift_moves_merchants_and_ip_countries(runs: dict[str, Simulation]) -> None:
    s, base, at = runs["fraud_shift"], runs["none"], _drift_at()
    moved = [t for t in s.transactions if _pattern(s, t) in CARD_NOT_PRESENT and _when(t) >= at]
    assert len(moved) >= 100
    assert {t["mcc"] for t in moved} <= SHIFT_MCCS
    ips = Counter(t["ip_country"] for t in moved if t["ip_country"] != t["card_country"])
    assert set(ips) & SHIFT_IP_COUNTRIES and sum(ips[c] for c in SHIFT_IP_COUNTRIES) > 0.7 * sum(ips.values())
    # Without the shift, none of that fraud goes there; nor does it before the shift.
    for run in (base, s):
        fraud = [t for t in run.transactions if _pattern(run, t) in CARD_NOT_PRESENT]
        fraud = [t for t in fraud if run is base or _when(t) < at]
        assert not {t["mcc"] for t in fraud} & SHIFT_MCCS
        assert not {t["ip_country"] for t in fraud} & SHIFT_IP_COUNTRIES


def test_holiday_means_more_dearer_online_and_foreign_legit_payments(
    runs: dict[str, Simulation],
) -> None:
    at = _drift_at()

    def stats(s: Simulation) -> tuple[int, float, float, float]:
        legit = [t for t in s.transactions if _when(t) >= at and t["event_id"] not in s.fraud_event_ids]
        return (
            len(legit),
            statistics.median(t["amount"] for t in legit),
            sum(t["channel"] == "ecom" for t in legit) / len(legit),
            sum(t["merchant_country"] != t["card_country"] for t in legit) / len(legit),
        )

    n0, amount0, ecom0, abroad0 = stats(runs["none"])
    n1, amount1, ecom1, abroad1 = stats(runs["holiday"])
    assert n1 > 1.4 * n0
    assert amount1 > 1.2 * amount0
    assert ecom1 > ecom0 + 0.05
    assert abroad1 > 1.25 * abroad0


def test_cli_drift_and_pattern_options(tmp_path: Path) -> None:
    args = ["--seed", "5", "--days", "4", "--cards", "300", "--merchants", "60"]
    drift = ["--drift", "new_pattern", "--drift-day", "2", "--new-pattern", "cross_border"]
    options = ["--off", "card_testing", "--pattern-rate", "stolen_card=0.003", "--legit-label-share", "0.1"]
    result = CliRunner().invoke(simulate_cli, [*args, *drift, *options, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "before" in result.output and "after" in result.output
    config = SimulationConfig(
        seed=5,
        days=4,
        cards=300,
        merchants=60,
        drift="new_pattern",
        drift_day=2.0,
        new_pattern="cross_border",
        card_testing=False,
        stolen_card_rate=0.003,
        legit_label_share=0.1,
    )
    expected = simulate(config)
    assert list(read_jsonl(tmp_path / "transactions.jsonl")) == expected.transactions
    assert list(read_jsonl(tmp_path / "labels.jsonl")) == expected.labels
    bad = CliRunner().invoke(simulate_cli, [*args, "--out", str(tmp_path), "--drift", "holiday"])
    assert bad.exit_code == 2 and "drift_day" in bad.output
    bad = CliRunner().invoke(simulate_cli, [*args, "--out", str(tmp_path), "--pattern-rate", "x=1"])
    assert bad.exit_code == 2
