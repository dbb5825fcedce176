"""The benchmark report: per-pattern AP and decisions on a window of days."""

from __future__ import annotations

from pathlib import Path

import orjson

from evaluation import build_dataset
from evaluation.quality import main, pattern_table, read_patterns, window


def _records() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    txs, decisions = [], []
    rows = [  # (day, probability, decision)
        ("2026-01-01", 0.99, "block"),  # e0 fraud "big", outside the window
        ("2026-01-02", 0.97, "block"),  # e1 fraud "big"
        ("2026-01-02", 0.70, "review"),  # e2 fraud "slow"
        ("2026-01-02", 0.80, "review"),  # e3 legit, reviewed
        ("2026-01-02", 0.10, "allow"),  # e4 fraud "slow", allowed
        ("2026-01-02", 0.05, "allow"),  # e5 legit
    ]
    for i, (day, p, d) in enumerate(rows):
        txs.append({"event_id": f"e{i}", "occurred_at": f"{day}T12:00:00Z", "card_id": f"c{i}"})
        decisions.append({"event_id": f"e{i}", "probability": p, "risk_score": round(100 * p), "decision": d})
    return txs, decisions


PATTERNS = {"e0": "big", "e1": "big", "e2": "slow", "e4": "slow"}


def test_per_pattern_rows_count_what_the_engine_did() -> None:
    txs, decisions = _records()
    data = window(build_dataset(txs, [], decisions), "2026-01-02", "2026-01-02")
    assert len(data) == 5
    text = pattern_table(data, PATTERNS, "batch", k=2)
    lines = {line.split()[0]: line.split() for line in text.splitlines()[2:4]}
    # big: 1 fraud, ranked first among the legit -> AP 1, blocked.
    assert lines["big"][1:3] == ["1", "1.000"] and lines["big"][4:] == ["1", "0", "0"]
    # slow: one reviewed (below a legit review), one allowed -> AP (1/2 + 2/3) / 2.
    assert lines["slow"][1:3] == ["2", "0.583"] and lines["slow"][4:] == ["0", "1", "1"]
    assert "1 reviewed of 2" in text and "per day: 2.0 reviews, 1.0 blocks" in text


def test_cli_reads_files_and_refuses_a_missing_one(tmp_path: Path) -> None:
    txs, decisions = _records()
    for name, recs in (("t.jsonl", txs), ("d.jsonl", decisions)):
        (tmp_path / name).write_bytes(b"\n".join(orjson.dumps(r) for r in recs))
    (tmp_path / "p.txt").write_text("".join(f"{k} {v}\n" for k, v in PATTERNS.items()))
    assert read_patterns(tmp_path / "p.txt") == PATTERNS
    args = ["--transactions", str(tmp_path / "t.jsonl"), "--decisions", str(tmp_path / "d.jsonl")]
    assert main([*args, "--patterns", str(tmp_path / "p.txt")]) == 0
    assert main([*args, "--patterns", str(tmp_path / "nope.txt")]) == 2
