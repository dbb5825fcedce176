"""Pure arithmetic of the benchmarks: percentiles, rates, CPU deltas, targets.

Kept apart from anything that talks to a service so that it can be unit-tested
(tests/bench/) and so each figure is computed one way for it and its peer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` of them at or below it.

    ``q`` is a fraction (0.99 for p99). Of 100 values, p99 is the 99th smallest and p50
    the 50th; of 1,000, p99 is the 990th. Raises on an empty sequence.
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within 0..1, not {q}")
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))
    return ordered[rank - 1]


def sustained_rate(arrivals: Iterable[float]) -> tuple[float, int, float]:
    """Events/s from the first output to the last, from each output's arrival time.

    The outputs that arrived with the first one (the same poll) mark the start; the
    rate counts those that arrived after it, over the time from the first arrival to
    the last. Returns (events/s, events counted, seconds).
    """
    times = sorted(arrivals)
    if len(times) < 2 or times[-1] <= times[0]:
        raise ValueError("need outputs that arrived at two different times")
    first, last = times[0], times[-1]
    counted = sum(1 for t in times if t > first)
    span = last - first
    return counted / span, counted, span


def latencies_ms(sent: Mapping[str, float], arrived: Mapping[str, float]) -> list[float]:
    """Milliseconds from each send to its output's arrival (both on one monotonic clock)."""
    missing = [k for k in sent if k not in arrived]
    if missing:
        raise ValueError(f"{len(missing)} of {len(sent)} outputs never arrived (e.g. {missing[0]!r})")
    return [(arrived[k] - t) * 1000.0 for k, t in sent.items()]


def cpu_seconds(info: Mapping[str, Any]) -> float:
    """A server's CPU seconds so far, from its ``INFO cpu``: ``used_cpu_sys + used_cpu_user``."""
    try:
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except KeyError as exc:
        raise ValueError(f"INFO cpu lacks {exc.args[0]}") from None


def cpu_delta_s(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> float:
    """CPU seconds spent between two ``INFO cpu`` snapshots, summed over every node.

    Snapshots map a node's name (``host:port``) to its ``INFO cpu``. A node must be in
    both (a restarted node's counters start again at zero, which would be wrong to sum).
    """
    if set(before) != set(after):
        raise ValueError(f"the nodes changed between snapshots: {sorted(before)} vs {sorted(after)}")
    total = 0.0
    for node in before:
        spent = cpu_seconds(after[node]) - cpu_seconds(before[node])
        if spent < 0:
            raise ValueError(f"{node}: CPU counters went backwards (restarted?)")
        total += spent
    return total


def per_event_us(seconds: float, events: int) -> float:
    """Microseconds per event."""
    if events <= 0:
        raise ValueError("no events")
    return seconds / events * 1e6


def ratio(value: float | None, peer: float | None) -> float | None:
    """value / peer, or None when either is missing or the peer is zero."""
    if value is None or peer is None or peer == 0:
        return None
    return value / peer


def marginal_rate(events: int, seconds: float, fixed_seconds: float) -> float:
    """Events/s of a run once a fixed cost (start-up, measured apart) is taken out."""
    work = seconds - fixed_seconds
    if events <= 0 or work <= 0:
        raise ValueError(f"{events} events in {seconds:.2f} s with {fixed_seconds:.2f} s fixed: no rate")
    return events / work


def replay_rate(events: int, seconds: float, startup_s: float) -> tuple[float, bool]:
    """Events/s of a replay with its start-up (a one-payment replay) taken out, and whether it was.

    On a noisy machine the start-up run can take about as long as a short full run; when
    less than a fifth of the full run would be left, the start-up is not subtracted (a
    lower, safe figure)."""
    if events <= 0 or seconds <= 0:
        raise ValueError(f"{events} events in {seconds:.2f} s: no rate")
    if seconds - startup_s >= 0.2 * seconds:
        return marginal_rate(events, seconds, startup_s), True
    return events / seconds, False


_REPLAY_DONE = re.compile(rb"wrote [\d,]+ decision records to .* \((\d+(?:\.\d+)?) s\)")


def replay_reported_s(log: bytes) -> float | None:
    """The seconds `riskwire replay` reports for itself (after Python's start), if it said."""
    found = _REPLAY_DONE.findall(log)
    return float(found[-1]) if found else None


@dataclass(frozen=True)
class Target:
    """A goal for one figure: ``value`` must be at least (``at_least``) or at most ``limit``."""

    text: str
    limit: float
    at_least: bool

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.limit if self.at_least else value <= self.limit


def at_least(limit: float, text: str) -> Target:
    return Target(text, limit, True)


def at_most(limit: float, text: str) -> Target:
    return Target(text, limit, False)


def all_met(targets: Sequence[Target], value: float | None) -> bool | None:
    verdicts = [t.met(value) for t in targets]
    if any(v is None for v in verdicts):
        return None
    return all(bool(v) for v in verdicts)
