"""The benchmark's knobs: a fixed chargeback delay and a deterministic amount-threshold pattern."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
from click.testing import CliRunner

from cli.simulate import simulate as simulate_cmd
from simulator import SimulationConfig, simulate

SMALL = {"seed": 3, "days": 6.0, "cards": 300, "merchants": 40}


def test_every_payment_above_the_threshold_is_fraud_and_nothing_else_changes() -> None:
    plain = simulate(SimulationConfig(**SMALL))
    sim = simulate(SimulationConfig(**SMALL, amount_threshold=400.0))
    above = [t for t in sim.transactions if float(t["amount"]) > 400.0]
    assert above and all(t["event_id"] in sim.fraud_event_ids for t in above)
    assert {sim.fraud_patterns[t["event_id"]] for t in above} >= {"amount_threshold"}
    # Deterministic: it draws nothing, so the payments themselves are those of the plain run.
    assert [t["amount"] for t in sim.transactions] == [t["amount"] for t in plain.transactions]
    assert sim.fraud_event_ids != plain.fraud_event_ids


def test_older_configs_keep_their_digest() -> None:
    # Digests from before the knob existed: datasets made then keep their event ids.
    assert SimulationConfig().digest == "d825bc0d"
    assert SimulationConfig(days=5, cards=100).digest == "9dd2a5af"
    assert SimulationConfig(amount_threshold=500.0).digest != "d825bc0d"


def test_cli_fixed_delay_and_patterns_file(tmp_path: Path) -> None:
    out = tmp_path / "d"
    args = ["--days", "6", "--cards", "300", "--merchants", "40", "--seed", "3", "--out", str(out)]
    args += ["--chargeback-delay", "7", "--amount-threshold", "400", "--truth"]
    result = CliRunner().invoke(simulate_cmd, args)
    assert result.exit_code == 0, result.output
    lines = (out / "transactions.jsonl").read_bytes().splitlines()
    txs = {t["event_id"]: t for t in map(orjson.loads, lines)}
    labels = [orjson.loads(line) for line in (out / "labels.jsonl").read_bytes().splitlines()]
    chargebacks = [lab for lab in labels if lab["label"] == "fraud"]
    assert chargebacks
    for lab in chargebacks:
        occurred = datetime.fromisoformat(txs[lab["event_id"]]["occurred_at"])
        assert (datetime.fromisoformat(lab["reported_at"]) - occurred).total_seconds() == 7 * 86400
    patterns = dict(line.split(" ") for line in (out / "fraud_patterns.txt").read_text().splitlines())
    assert "amount_threshold" in patterns.values()


def test_cli_refuses_a_bad_delay_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate_cmd, ["--out", str(tmp_path), "--chargeback-delay", "9-2"])
    assert result.exit_code == 2 and "LOW <= HIGH" in result.output
