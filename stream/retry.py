"""Retrying a batch through an outage, and giving it up when the worker stops.

A batch that fails on Redis or Kafka is retried whole (its writes are idempotent per
event) with exponential backoff (tenacity). The retrying ends when the worker is asked
to stop: the batch is then *abandoned*, i.e. its messages are marked so that Faust's
acknowledging of the taken events commits nothing, and the next worker redoes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from stream.handler import RETRYABLE
from stream.metrics import Progress, WorkerMetrics

log = logging.getLogger("riskwire.worker")
MAX_BACKOFF_S = 5.0


class Stopping:
    """Set once, from the signal handler, when the worker is asked to stop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when stopping: a backoff must not delay a shutdown."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=seconds)


class BatchAbandoned(Exception):
    """The worker stopped while a batch was still failing; nothing of it is committed."""


async def until_done(
    work: Callable[[], Awaitable[object]],
    metrics: WorkerMetrics,
    progress: Progress,
    stopping: Stopping,
    agent: str = "score",
) -> None:
    """Run ``work`` until it succeeds, retrying outages; raise BatchAbandoned on stop."""

    def on_retry(state: RetryCallState) -> None:
        metrics.retries.inc()
        progress.failed(agent)
        wait = state.next_action.sleep if state.next_action else 0.0
        exc = state.outcome.exception() if state.outcome else None
        log.warning("batch failed (%r); retrying in %.1f s", exc, wait)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RETRYABLE),
        wait=wait_exponential(multiplier=0.1, min=0.1, max=MAX_BACKOFF_S),
        stop=lambda _state: stopping.is_set(),
        sleep=stopping.sleep,
        before_sleep=on_retry,
        reraise=True,
    )
    if stopping.is_set():
        raise BatchAbandoned("stopping before the batch started")
    try:
        await retrying(work)
    except RETRYABLE as exc:
        if stopping.is_set():
            raise BatchAbandoned(f"stopping while the batch still failed: {exc!r}") from exc
        raise  # pragma: no cover - the stop condition is the only way out of the retries
    progress.succeeded(agent)


def abandon(events: Iterable[Any]) -> None:
    """Mark the messages of unfinished events as acknowledged *without* their offsets
    being committable: Faust's consumer skips an acked message (its ``ack`` is a
    test-and-set on ``message.acked``), so the ack that ``take_events`` does when the
    loop is left commits nothing, and the shutdown does not wait for them."""
    for event in events:
        event.message.acked = True
