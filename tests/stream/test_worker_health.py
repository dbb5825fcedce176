"""The worker's health rule and its batch retries (pure logic, real asyncio)."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from stream.metrics import Progress, WorkerMetrics
from stream.retry import BatchAbandoned, Stopping, until_done


def test_idle_without_lag_is_healthy():
    p = Progress(stall_after_s=1.0)
    p.last_progress = time.monotonic() - 100
    p.update_lag({("t", 0): 10}, {("t", 0): 10})
    assert p.healthy()[0]


def test_lag_is_highwater_minus_committed_and_unhealthy_when_nothing_moves():
    p = Progress(stall_after_s=1.0)
    p.advance([("t", 0, 4)])
    p.last_progress = time.monotonic() - 5
    assert p.update_lag({("t", 0): 105, ("t", 1): 7}, {("t", 0): 5, ("t", 1): 2}) == {
        ("t", 0): 100,
        ("t", 1): 5,
    }
    ok, why = p.healthy()
    assert p.lag == 105
    assert not ok and "105 messages waiting" in why


def test_progress_recovers_health():
    p = Progress(stall_after_s=1.0)
    p.last_progress = time.monotonic() - 5
    p.update_lag({("t", 0): 3}, {("t", 0): 0})
    assert not p.healthy()[0]
    p.advance([("t", 0, 2)])
    p.update_lag({("t", 0): 3}, {("t", 0): 3})
    assert p.healthy()[0] and p.lag == 0


def test_batches_failing_longer_than_the_stall_time_is_unhealthy_even_without_lag():
    p = Progress(stall_after_s=1.0)
    p.failed("score")
    assert p.healthy()[0], "a fresh failure is not yet a stall"
    p.failing["score"] -= 5
    ok, why = p.healthy()
    assert not ok and "score" in why and "failed for 5 s" in why
    p.succeeded("score")
    assert p.healthy()[0]


def test_retries_until_the_outage_ends_and_counts_them():
    metrics, progress, calls = WorkerMetrics(), Progress(), []

    async def work() -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RedisConnectionError("down")

    asyncio.run(until_done(work, metrics, progress, Stopping()))
    assert len(calls) == 3
    assert metrics.retries._value.get() == 2
    assert not progress.failing, "success clears the failure"


def test_stopping_ends_the_retries_at_once_and_abandons_the_batch():
    progress = Progress()

    async def main() -> float:
        stopping = Stopping()

        async def work() -> None:
            raise RedisConnectionError("down")

        task = asyncio.ensure_future(until_done(work, WorkerMetrics(), progress, stopping))
        await asyncio.sleep(2.0)  # into the backoff's longer sleeps
        asked = time.monotonic()
        stopping.set()
        with pytest.raises(BatchAbandoned):
            await task
        return time.monotonic() - asked

    assert asyncio.run(main()) < 0.5
    assert "score" in progress.failing


def test_a_non_outage_error_is_not_retried():
    async def work() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        asyncio.run(until_done(work, WorkerMetrics(), Progress(), Stopping()))
