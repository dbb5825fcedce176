"""The simulator: deterministic, valid records, and the signature of each fraud pattern.

Pure tests (no services). The publish test uses a stand-in producer; the real
broker round trip belongs with the broker fixture.
"""

from __future__ import annotations

import doctest
import json
import statistics
import time
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

import simulator
import simulator.producer
import simulator.simulation
from cli.simulate import simulate as simulate_cli
from contracts.records import Label, Transaction
from simulator import (
    PublishError,
    Simulation,
    SimulationConfig,
    publish,
    read_jsonl,
    simulate,
    write_jsonl,
)

SMALL = SimulationConfig(seed=5, days=5, cards=400, merchants=60)
PATTERNS = (
    "stolen_card",
    "card_testing",
    "compromised_merchant",
    "account_takeover",
    "cross_border",
)


def _when(record: dict[str, Any], key: str = "occurred_at") -> datetime:
    return datetime.fromisoformat(record[key])


def _by_card(sim: Simulation, pattern: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in sim.transactions:
        if sim.fraud_patterns.get(t["event_id"]) == pattern:
            out[t["card_id"]].append(t)
    return out


def _legit(sim: Simulation) -> list[dict[str, Any]]:
    return [t for t in sim.transactions if t["event_id"] not in sim.fraud_event_ids]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    def files(config: SimulationConfig, name: str) -> tuple[bytes, bytes]:
        s = simulate(config)
        write_jsonl(tmp_path / f"{name}.tx", s.transactions)
        write_jsonl(tmp_path / f"{name}.lb", s.labels)
        return (tmp_path / f"{name}.tx").read_bytes(), (tmp_path / f"{name}.lb").read_bytes()

    first, again = files(SMALL, "a"), files(SMALL, "b")
    assert first == again
    other = files(SimulationConfig(seed=6, days=5, cards=400, merchants=60), "c")
    assert other[0] != first[0]


def test_default_size_fraud_rate_and_speed() -> None:
    began = time.perf_counter()
    s = simulate(SimulationConfig())
    elapsed = time.perf_counter() - began
    assert 80_000 <= len(s.transactions) <= 130_000
    assert 0.01 <= s.fraud_rate <= 0.02
    counts = {p: list(s.fraud_patterns.values()).count(p) for p in set(s.fraud_patterns.values())}
    assert set(counts) == set(PATTERNS)
    assert min(counts.values()) >= 50
    assert elapsed < 10, f"default simulation took {elapsed:.1f}s"


def test_every_record_validates_and_carries_no_truth(sim: Simulation) -> None:
    for t in sim.transactions:
        tx = Transaction.model_validate(t)
        assert tx.model_extra == {}
        assert round(tx.amount, 2) == tx.amount > 0
        assert tx.card_id.startswith("card_") and tx.mcc is not None and tx.channel is not None
    for lab in sim.labels:
        assert Label.model_validate(lab).event_id and set(lab) <= set(Label.model_fields)  # no extras


def test_ids_unique_times_sorted_and_inside_the_window(sim: Simulation) -> None:
    ids = [t["event_id"] for t in sim.transactions]
    assert len(set(ids)) == len(ids)
    assert sim.fraud_event_ids <= set(ids)
    assert set(sim.fraud_patterns) == sim.fraud_event_ids
    times = [_when(t) for t in sim.transactions]
    assert times == sorted(times)
    config = SimulationConfig()
    assert config.start <= times[0] and times[-1] < config.start + timedelta(days=config.days)


def test_legit_traffic_sleeps_at_night_and_stays_home(sim: Simulation) -> None:
    legit = _legit(sim)
    hours = [_when(t).hour for t in legit]  # in the card's local offset
    night = sum(1 for h in hours if 1 <= h < 5)
    midday = sum(1 for h in hours if 11 <= h < 15)
    assert night * 10 < midday
    home_ip = sum(t["ip_country"] == t["card_country"] for t in legit) / len(legit)
    assert home_ip > 0.9
    assert {t["channel"] for t in legit} == {"ecom", "pos", "atm", "p2p"}


def test_stolen_card_is_a_foreign_burst_at_many_merchants_on_a_new_device(
    sim: Simulation,
) -> None:
    legit_devices: dict[str, set[str]] = defaultdict(set)
    legit_amounts: dict[str, list[float]] = defaultdict(list)
    for t in _legit(sim):
        legit_devices[t["card_id"]].add(t["device_id"])
        legit_amounts[t["card_id"]].append(t["amount"])
    bursts = _by_card(sim, "stolen_card")
    assert len(bursts) >= 50
    dearer = 0
    for card, txs in bursts.items():
        assert len(txs) >= 4
        assert _when(txs[-1]) - _when(txs[0]) <= timedelta(hours=1)
        assert len({t["merchant_id"] for t in txs}) >= 4
        assert len({t["device_id"] for t in txs}) == 1
        assert txs[0]["device_id"] not in legit_devices[card]
        assert all(t["ip_country"] != t["card_country"] for t in txs)
        usual = statistics.median(legit_amounts[card]) if legit_amounts[card] else 0.0
        dearer += statistics.median(t["amount"] for t in txs) > usual
    assert dearer >= 0.9 * len(bursts)


def test_card_testing_is_small_amounts_then_large_ones(sim: Simulation) -> None:
    runs = _by_card(sim, "card_testing")
    assert len(runs) >= 20
    for txs in runs.values():
        small = [t for t in txs if t["amount"] < 2]
        assert len(small) >= 5
        assert _when(small[-1]) - _when(small[0]) <= timedelta(hours=1)
        later = [t for t in txs if _when(t) > _when(small[-1])]
        assert len(later) >= 2 and all(t["amount"] >= 50 for t in later)
    # Legit traffic never looks like that: no card has 5 sub-2 payments within an hour.
    small_legit: dict[str, list[datetime]] = defaultdict(list)
    for t in _legit(sim):
        if t["amount"] < 2:
            small_legit[t["card_id"]].append(_when(t))
    for times in small_legit.values():
        for i in range(len(times) - 4):
            assert times[i + 4] - times[i] > timedelta(hours=1)


def test_compromised_merchant_takes_a_share_at_inflated_amounts(sim: Simulation) -> None:
    legit_amounts: dict[str, list[float]] = defaultdict(list)
    for t in _legit(sim):
        legit_amounts[t["card_id"]].append(t["amount"])
    by_merchant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in sim.transactions:
        if sim.fraud_patterns.get(t["event_id"]) == "compromised_merchant":
            by_merchant[t["merchant_id"]].append(t)
    assert by_merchant
    ratios = []
    for merchant, fraud in by_merchant.items():
        first, last = _when(fraud[0]), _when(fraud[-1])
        assert last - first <= timedelta(days=21)
        at_merchant = (t for t in sim.transactions if t["merchant_id"] == merchant)
        during = [t for t in at_merchant if first <= _when(t) <= last]
        if len(during) >= 300:
            assert 0.015 <= len(fraud) / len(during) <= 0.1
        ratios += [
            t["amount"] / statistics.median(legit_amounts[t["card_id"]])
            for t in fraud
            if legit_amounts[t["card_id"]]
        ]
    assert statistics.median(ratios) > 2


def test_patterns_switch_off_independently_and_leave_legit_traffic_alone() -> None:
    on = simulate(SMALL)
    off = simulate(replace(SMALL, **dict.fromkeys(PATTERNS, False)))
    assert off.fraud_event_ids == set()
    disputes = [lab for lab in off.labels if lab["label"] == "fraud"]
    assert len(disputes) < 0.005 * len(off.transactions)  # false disputes only
    no_testing = simulate(replace(SMALL, card_testing=False))
    assert "card_testing" not in no_testing.fraud_patterns.values()
    assert "stolen_card" in no_testing.fraud_patterns.values()

    def key(t: dict[str, Any]) -> tuple[str, str, str]:
        return t["card_id"], t["occurred_at"], t["merchant_id"]

    injected = {"stolen_card", "card_testing", "account_takeover", "cross_border"}
    base = [key(t) for t in on.transactions if on.fraud_patterns.get(t["event_id"]) not in injected]
    assert base == [key(t) for t in off.transactions]


def test_labels_are_delayed_chargebacks_sorted_by_report_time(sim: Simulation) -> None:
    occurred = {t["event_id"]: _when(t) for t in sim.transactions}
    reported = [_when(lab, "reported_at") for lab in sim.labels]
    assert reported == sorted(reported)
    assert len({lab["event_id"] for lab in sim.labels}) == len(sim.labels)
    chargebacks = [
        (lab, when) for lab, when in zip(sim.labels, reported, strict=True) if lab["label"] == "fraud"
    ]
    for lab, when in chargebacks:
        assert lab["source"] == "chargeback"
        assert timedelta(days=1) <= when - occurred[lab["event_id"]] <= timedelta(days=60)
    on_fraud = sum(lab["event_id"] in sim.fraud_event_ids for lab, _ in chargebacks)
    assert 0.78 <= on_fraud / len(sim.fraud_event_ids) <= 0.92
    false_disputes = len(chargebacks) - on_fraud
    legit = len(sim.transactions) - len(sim.fraud_event_ids)
    assert 0.0003 * legit <= false_disputes <= 0.003 * legit


def test_legit_labels_are_a_quick_confirmed_share_of_legit_payments(sim: Simulation) -> None:
    occurred = {t["event_id"]: _when(t) for t in sim.transactions}
    confirmed = [lab for lab in sim.labels if lab["label"] == "legit"]
    assert {lab["source"] for lab in confirmed} == {"confirmed"}
    assert not {lab["event_id"] for lab in confirmed} & sim.fraud_event_ids
    legit = len(sim.transactions) - len(sim.fraud_event_ids)
    assert 0.025 <= len(confirmed) / legit <= 0.035
    for lab in confirmed:
        delay = _when(lab, "reported_at") - occurred[lab["event_id"]]
        assert timedelta(0) <= delay <= timedelta(days=3)
    none = simulate(replace(SMALL, legit_label_share=0.0))
    assert {lab["label"] for lab in none.labels} == {"fraud"}


def test_jsonl_round_trip(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [
        {"event_id": "e1", "amount": 1.5, "note": "é"},
        {"event_id": "e2", "nested": [1]},
    ]
    path = tmp_path / "deep" / "x.jsonl"
    assert write_jsonl(path, records) == 2
    assert list(read_jsonl(path)) == records
    assert path.read_bytes().splitlines()[0] == '{"event_id":"e1","amount":1.5,"note":"é"}'.encode()
    path.write_text(path.read_text() + "\n\nnot json\n")
    with pytest.raises(ValueError, match=r"x\.jsonl:5"):
        list(read_jsonl(path))


def test_progress_counts_every_transaction() -> None:
    seen: list[int] = []
    s = simulate(SMALL, progress=seen.append)
    assert sum(seen) == len(s.transactions)


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="timezone"):
        SimulationConfig(start=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="merchants"):
        SimulationConfig(merchants=5)
    with pytest.raises(ValueError, match="share"):
        SimulationConfig(compromised_share=1.5)
    with pytest.raises(ValueError, match="together"):
        SimulationConfig(drift="holiday")
    with pytest.raises(ValueError, match="drift must be one of"):
        SimulationConfig(drift="meteor", drift_day=3.0)
    with pytest.raises(ValueError, match="drift_day"):
        SimulationConfig(days=10, drift="holiday", drift_day=10.0)
    with pytest.raises(ValueError, match="new_pattern"):
        SimulationConfig(new_pattern="stolen_card")


def test_cli_writes_files_and_truth_only_on_request(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--seed", "5", "--days", "5", "--cards", "400", "--merchants", "60"]
    result = runner.invoke(
        simulate_cli, [*args, "--start", "2026-01-01T00:00:00Z", "--out", str(tmp_path / "a")]
    )
    assert result.exit_code == 0, result.output
    assert "transactions" in result.output and "fraud" in result.output
    assert not (tmp_path / "a" / "fraud_truth.txt").exists()
    assert list(read_jsonl(tmp_path / "a" / "transactions.jsonl")) == simulate(SMALL).transactions

    result = runner.invoke(simulate_cli, [*args, "--out", str(tmp_path / "b"), "--truth"])
    assert result.exit_code == 0, result.output
    truth = (tmp_path / "b" / "fraud_truth.txt").read_text().split()
    assert set(truth) == simulate(SMALL).fraud_event_ids
    assert runner.invoke(simulate_cli, args).exit_code == 2  # neither --out nor --publish
    naive = runner.invoke(simulate_cli, [*args, "--out", "x", "--start", "2026-01-01"])
    assert naive.exit_code == 2


class _FakeProducer:
    """Stands in for confluent_kafka.Producer: a full queue once, then delivery reports."""

    instances: ClassVar[list[_FakeProducer]] = []
    fail = False

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.pending: list[Any] = []
        self.full_once = True
        _FakeProducer.instances.append(self)

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        if self.full_once:
            self.full_once = False
            raise BufferError("queue full")
        self.sent.append((topic, key, value))
        self.pending.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        time.sleep(min(timeout, 0.001))
        callbacks, self.pending = self.pending, []
        for cb in callbacks:
            cb("broker said no" if self.fail else None, None)
        return len(callbacks)

    def list_topics(self, timeout: float = 0) -> object:
        return object()

    def flush(self, timeout: float = 0) -> int:
        self.poll(0)
        return 0


def test_publish_keys_values_pacing_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulator.producer, "Producer", _FakeProducer)
    records = [{"event_id": f"e{i}", "card_id": f"c{i % 3}", "amount": 1.0} for i in range(50)]
    progress: list[int] = []
    began = time.perf_counter()
    n = publish(
        records,
        bootstrap="b:1",
        topic="t",
        key_field="card_id",
        rate=500.0,
        progress=progress.append,
    )
    assert n == 50 and sum(progress) == 50
    assert time.perf_counter() - began >= 49 / 500
    producer = _FakeProducer.instances[-1]
    assert producer.conf["bootstrap.servers"] == "b:1"
    assert producer.sent[0] == ("t", b"c0", b'{"event_id":"e0","card_id":"c0","amount":1.0}')
    monkeypatch.setattr(_FakeProducer, "fail", True)
    with pytest.raises(PublishError, match="failed"):
        publish(records, bootstrap="b:1", topic="t", key_field="card_id", rate=None)


def test_docstring_examples_run() -> None:
    for module in (simulator, simulator.simulation):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0


def test_truth_is_not_in_the_records(sim: Simulation) -> None:
    text = json.dumps(sim.transactions[:1000])
    assert "fraud" not in text and "pattern" not in text
