"""Replaying history through the production pipeline, without Kafka.

Events are scored in event-time order, in micro-batches, by the same
``ScoringPipeline`` the worker runs (same Lua feature script, models, SHAP,
reasons, rules and decision store), so a replay gives the decisions the live
worker would have given had the events arrived in that order.

Labels take effect in event time: before each micro-batch, every label whose
``reported_at`` is at or before the batch's first event is applied — to the
label-derived features and, when ``learning`` is given, to the online model —
exactly as the worker's label agent would have applied it by then. As in the
worker, the pipeline's live state is refreshed once before each micro-batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from contracts.records import Label, Transaction
from features.event_time import in_event_time
from pipeline.label_learning import LabelInput, LabelLearning
from pipeline.scoring import ScoringPipeline


async def replay(
    transactions: Iterable[Transaction],
    pipeline: ScoringPipeline,
    *,
    labels: Iterable[Label] = (),
    learning: LabelLearning | None = None,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Decision records (JSON bytes), one per distinct event, in event-time order."""
    seen: set[str] = set()
    for due, chunk in in_event_time(transactions, labels, batch):
        if due:
            await _apply(pipeline, learning, due)
        # After labels were learned, the next batch blends with what was just learned.
        await pipeline.live.refresh(force_online=bool(due) and learning is not None)
        scored_events, _report = await pipeline.score(chunk)
        for scored in scored_events:
            # A duplicate in a later batch gets the stored record back: emit it once.
            if scored.ref not in seen:
                seen.add(scored.ref)
                yield scored.body
        if progress:
            progress(len(chunk))


async def _apply(pipeline: ScoringPipeline, learning: LabelLearning | None, labels: list[Label]) -> None:
    if learning is None:
        await pipeline.features.record_labels(labels)
        return
    await learning.apply([LabelInput(lab) for lab in labels])
