"""Replaying history through the production pipeline, without Kafka.

Events are scored in event-time order, in micro-batches, by the same
``ScoringPipeline`` the worker runs (same Lua feature script, model, SHAP,
reasons and decision store), so a replay gives the decisions the live worker
would have given had the events arrived in that order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from contracts.records import Transaction
from pipeline.scoring import ScoringPipeline


async def replay(
    transactions: Iterable[Transaction],
    pipeline: ScoringPipeline,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Decision records (JSON bytes), one per distinct event, in event-time order."""
    ordered = sorted(transactions, key=lambda t: t.occurred_ms)
    seen: set[str] = set()
    for start in range(0, len(ordered), batch):
        chunk = ordered[start : start + batch]
        for scored in await pipeline.score(chunk):
            # A duplicate in a later batch gets the stored record back: emit it once.
            if scored.event_id not in seen and not scored.conflict:
                seen.add(scored.event_id)
                yield scored.body
        if progress:
            progress(len(chunk))
