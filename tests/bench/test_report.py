"""The bench's final table, JSON and options (no services)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import services
from bench.__main__ import Options, Phases, parse_args
from bench.report import format_table, markdown_table, summary_rows, write_json
from bench.stages import stage_events

FIGURES = {
    "worker_events_per_s": 5000.0,
    "decode_only_events_per_s": 10_000.0,
    "redis_cpu_us_per_event": 40.0,
    "latency_p50_ms": 30.0,
    "latency_p99_ms": 80.0,
    "hop_p50_ms": 20.0,
    "hop_p99_ms": 50.0,
    "explain_us_per_event": 25.0,
    "model_us_per_event": 5.0,
    "replay_events_per_s": 12_000.0,
}


def test_summary_rows_hold_peers_ratios_and_targets() -> None:
    rows = {r.figure: r for r in summary_rows(FIGURES)}
    worker = rows["worker throughput"]
    assert (worker.value, worker.peer_value, worker.ratio, worker.met) == (5000.0, 10_000.0, 0.5, True)
    assert [t.limit for t in worker.targets] == [4000.0, 4000.0]  # 4,000/s and 0.4 × 10,000
    assert rows["Redis CPU per event"].met is True
    assert rows["Redis CPU per event"].peer_value == pytest.approx(200.0)  # 1e6 / 5,000 events/s
    p99 = rows["publish-to-score p99"]
    assert p99.targets[0].limit == 75.0 and p99.met is False  # 80 > 50 + 25
    assert rows["publish-to-score p50"].met is None  # no target
    assert rows["explanation (SHAP), batch 1,000"].met is False
    assert rows["replay"].met is True


def test_worker_must_also_keep_up_with_its_peer() -> None:
    rows = summary_rows({**FIGURES, "worker_events_per_s": 4500.0, "decode_only_events_per_s": 20_000.0})
    assert rows[0].met is False  # ≥ 4,000 but < 0.4 × 20,000


def test_the_worker_with_postgresql_keeps_85_percent_of_its_throughput() -> None:
    """Issue 18: the run with decisions in PostgreSQL, against the same run without."""
    rows = {r.figure: r for r in summary_rows({**FIGURES, "worker_pg_events_per_s": 4300.0})}
    pg = rows["worker throughput, PostgreSQL"]
    assert (pg.peer_value, pg.targets[0].limit, pg.met) == (5000.0, 4250.0, True)
    slow = {r.figure: r for r in summary_rows({**FIGURES, "worker_pg_events_per_s": 4000.0})}
    assert slow["worker throughput, PostgreSQL"].met is False
    assert {r.figure: r for r in summary_rows(FIGURES)}["worker throughput, PostgreSQL"].met is None


def test_missing_figures_show_as_dashes() -> None:
    table = format_table(summary_rows({"worker_events_per_s": 1234.0}))
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["figure", "value"]
    assert "1,234" in lines[2] and "—" in lines[2] and "ok" not in lines[2]
    assert len(lines) == 2 + 8


def test_json_and_markdown(tmp_path: Path) -> None:
    path = tmp_path / "out" / "bench.json"
    write_json(
        path,
        {
            **FIGURES,
            "stages_us_per_event": [
                {"batch": 1000, "features": 1.0, "model": 2.0, "explain": 3.0, "decide": 4.0}
            ],
        },
        {"events": 5},
    )
    doc = json.loads(path.read_text())
    assert doc["params"] == {"events": 5}
    assert doc["figures"]["worker_events_per_s"] == 5000.0
    assert [r["met"] for r in doc["summary"]] == [True, True, None, None, False, False, True, None]
    md = markdown_table(doc)
    assert "| worker throughput (events/s) | 5,000 | decode-only agent | 10,000 | 0.50× |" in md
    assert "| 1,000 | 1 | 2.0 | 3.0 | 4.0 | 10 |" in md


def test_options_from_environment_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_EVENTS", "5000")
    monkeypatch.setenv("BENCH_API", "0")
    opts = parse_args(["--seconds", "5", "--json", "x.json"])
    assert (opts.events, opts.seconds, opts.api, opts.json_path) == (5000, 5.0, False, Path("x.json"))
    assert opts.steady_events == 5000 and opts.replayed == 5000
    with pytest.raises(SystemExit):
        parse_args(["--events", "0"])


def test_sizes_needed_after_the_history() -> None:
    assert [stage_events(s, 3000) for s in (1, 100, 1000)] == [600, 3000, 3000]
    assert stage_events(1000, 300) == 1000  # at least one batch
    assert Options(events=100, rate=10, seconds=2, stage_events=3000).after_history() == 200 + 20 + 6600
    no_pg = Options(events=100, rate=10, seconds=2, stage_events=3000, postgres=False)
    assert no_pg.after_history() == 100 + 20 + 6600


def test_phases_print_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    phases = Phases(2)
    with phases.phase("first") as ph:
        ph["result"] = "42 events/s"
    with pytest.raises(RuntimeError), phases.phase("second"):
        raise RuntimeError("boom")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[ 1/2] first ... 42 events/s (")
    assert out[1] == "[ 2/2] second ... failed"


def test_redis_cluster_hook_says_not_available(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from contextlib import ExitStack

    monkeypatch.setattr(services, "cluster_available", lambda: False)
    with ExitStack() as stack, pytest.raises(services.NotAvailable, match="not available yet"):
        services.start(stack, tmp_path, redis_cluster=True)
