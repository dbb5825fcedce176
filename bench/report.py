"""The bench's final table (each figure beside its peer, the ratio and the target) and JSON."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stats import Target, all_met, at_least, at_most, ratio

#: The hot-path issue's goals.
WORKER_MIN_EVENTS_S = 4000.0
WORKER_MIN_SHARE_OF_DECODE_ONLY = 0.4
#: Issue 18: decisions in PostgreSQL cost the worker at most 15% of its throughput.
WORKER_MIN_SHARE_WITH_POSTGRES = 0.85
REDIS_MAX_CPU_US = 50.0
P99_MAX_OVER_HOP_MS = 25.0
EXPLAIN_MAX_US = 20.0
REPLAY_MIN_EVENTS_S = 10_000.0


@dataclass
class Row:
    figure: str
    unit: str
    value: float | None
    peer: str
    peer_value: float | None
    targets: list[Target] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.peer_value)

    @property
    def met(self) -> bool | None:
        return all_met(self.targets, self.value) if self.targets else None

    def to_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "unit": self.unit,
            "value": self.value,
            "peer": self.peer,
            "peer_value": self.peer_value,
            "ratio": self.ratio,
            "targets": [asdict(t) for t in self.targets],
            "met": self.met,
        }


def summary_rows(f: Mapping[str, Any]) -> list[Row]:
    """The final table from the figures of one run (missing figures show as "—")."""
    worker, decode = f.get("worker_events_per_s"), f.get("decode_only_events_per_s")
    worker_goals = [at_least(WORKER_MIN_EVENTS_S, f"≥ {WORKER_MIN_EVENTS_S:,.0f}")]
    if decode is not None:
        share = WORKER_MIN_SHARE_OF_DECODE_ONLY
        worker_goals.append(at_least(share * decode, f"≥ {share} × peer = {share * decode:,.0f}"))
    hop_p99 = f.get("hop_p99_ms")
    p99_goals = []
    if hop_p99 is not None:
        limit = hop_p99 + P99_MAX_OVER_HOP_MS
        p99_goals.append(at_most(limit, f"≤ peer + {P99_MAX_OVER_HOP_MS:.0f} = {limit:,.1f}"))
    return [
        Row("worker throughput", "events/s", worker, "decode-only agent", decode, worker_goals),
        Row(
            "Redis CPU per event",
            "µs",
            f.get("redis_cpu_us_per_event"),
            "worker wall time per event",
            1e6 / worker if worker else None,
            [at_most(REDIS_MAX_CPU_US, f"≤ {REDIS_MAX_CPU_US:.0f}")],
        ),
        Row(
            "worker throughput, PostgreSQL",
            "events/s",
            f.get("worker_pg_events_per_s"),
            "worker throughput",
            worker,
            [at_least(WORKER_MIN_SHARE_WITH_POSTGRES * worker, f"≥ 0.85 × peer = {0.85 * worker:,.0f}")]
            if worker and f.get("worker_pg_events_per_s") is not None
            else [],
        ),
        Row("publish-to-score p50", "ms", f.get("latency_p50_ms"), "broker hop p50", f.get("hop_p50_ms")),
        Row("publish-to-score p99", "ms", f.get("latency_p99_ms"), "broker hop p99", hop_p99, p99_goals),
        Row(
            "explanation (SHAP), batch 1,000",
            "µs/event",
            f.get("explain_us_per_event"),
            "model prediction",
            f.get("model_us_per_event"),
            [at_most(EXPLAIN_MAX_US, f"≤ {EXPLAIN_MAX_US:.0f}")],
        ),
        Row(
            "replay",
            "events/s",
            f.get("replay_events_per_s"),
            "worker throughput",
            worker,
            [at_least(REPLAY_MIN_EVENTS_S, f"≥ {REPLAY_MIN_EVENTS_S:,.0f}")],
        ),
        Row(
            "store + read a record, encrypted at rest",
            "µs/event",
            f.get("at_rest_sealed_us_per_event"),
            "the same, unencrypted",
            f.get("at_rest_plain_us_per_event"),
        ),
    ]


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}×" if value >= 0.01 else f"{value:.4f}×"


def _verdict(met: bool | None, has_target: bool) -> str:
    if not has_target:
        return ""
    return {True: "ok", False: "MISSED", None: "?"}[met]


def format_table(rows: Sequence[Row]) -> str:
    """A compact fixed-width table: figure, value, peer, peer's value, ratio, target, verdict."""
    head = ("figure", "value", "peer", "peer value", "ratio", "target", "")
    cells = [
        (
            f"{r.figure} ({r.unit})",
            _num(r.value),
            r.peer,
            _num(r.peer_value),
            _ratio(r.ratio),
            " and ".join(t.text for t in r.targets) or "—",
            _verdict(r.met, bool(r.targets)),
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    right = {1, 3, 4}

    def line(c: Sequence[str]) -> str:
        parts = [c[i].rjust(widths[i]) if i in right else c[i].ljust(widths[i]) for i in range(len(c))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([line(head), rule, *(line(c) for c in cells)])


def format_stages(rows: Sequence[Mapping[str, float]]) -> str:
    lines = [f"{'batch':>6} {'features':>9} {'model':>7} {'SHAP':>7} {'decide':>7} {'total':>8}"]
    for r in rows:
        total = r["features"] + r["model"] + r["explain"] + r["decide"]
        lines.append(
            f"{int(r['batch']):>6} {r['features']:>9.1f} {r['model']:>7.1f} {r['explain']:>7.1f} "
            f"{r['decide']:>7.1f} {total:>8.1f}"
        )
    return "\n".join(lines)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def write_json(path: Path, figures: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Write the run's figures, its parameters and the final table to ``path``."""
    import os

    doc = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.system()},
        "params": dict(params),
        "figures": dict(figures),
        "summary": [r.to_json() for r in summary_rows(figures)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return doc


def markdown_table(doc: Mapping[str, Any]) -> str:
    """The final table of a JSON document written by :func:`write_json`, as Markdown (for the README)."""
    lines = [
        "| figure | value | peer | peer value | ratio | target | |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in doc["summary"]:
        targets = " and ".join(t["text"] for t in r["targets"]) or "—"
        verdict = _verdict(r["met"], bool(r["targets"]))
        lines.append(
            f"| {r['figure']} ({r['unit']}) | {_num(r['value'])} | {r['peer']} | {_num(r['peer_value'])} "
            f"| {_ratio(r['ratio'])} | {targets} | {verdict} |"
        )
    stages = doc["figures"].get("stages_us_per_event")
    if stages:
        lines += [
            "",
            "| batch | features | model | SHAP | decide | µs per event |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for s in stages:
            total = s["features"] + s["model"] + s["explain"] + s["decide"]
            lines.append(
                f"| {int(s['batch']):,} | {s['features']:,.0f} | {s['model']:,.1f} | {s['explain']:,.1f} "
                f"| {s['decide']:,.1f} | {total:,.0f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "var/bench.json")
    print(markdown_table(json.loads(source.read_text())))
