"""The worker's progress-based health rule (pure logic)."""

from __future__ import annotations

import time

from stream.metrics import Progress


def test_idle_without_lag_is_healthy():
    p = Progress(stall_after_s=1.0)
    p.last_progress = time.monotonic() - 100
    p.update_lag({("t", 0): 10}, {("t", 0): 10})
    assert p.healthy()[0]


def test_no_progress_while_lag_waits_is_unhealthy():
    p = Progress(stall_after_s=1.0)
    p.advance([("t", 0, 4)])
    p.last_progress = time.monotonic() - 5
    assert p.update_lag({("t", 0): 105, ("t", 1): 7}, {("t", 1): 2}) == {("t", 0): 100, ("t", 1): 5}
    ok, why = p.healthy()
    assert p.lag == 105
    assert not ok and "105 messages waiting" in why


def test_progress_recovers_health():
    p = Progress(stall_after_s=1.0)
    p.last_progress = time.monotonic() - 5
    p.update_lag({("t", 0): 3}, {("t", 0): 0})
    assert not p.healthy()[0]
    p.advance([("t", 0, 2)])
    p.update_lag({("t", 0): 3}, {})
    assert p.healthy()[0] and p.lag == 0
