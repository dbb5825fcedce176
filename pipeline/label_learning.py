"""Labels → online learning: join each label to its decision, learn once, checkpoint.

A label names an event; what the online model learns from is the feature
vector that event was scored on, read back from its decision record (and the
batch model's probability, for the blend and the drift detector). A label whose
event has no decision yet is filed as pending and retried on later batches,
never dropped. Each step reads the checkpoint, learns, and commits
compare-and-set (``store.online_checkpoint``): a conflicting writer makes the
step start over from the newer checkpoint, so nothing is learned twice.

The same code runs in the worker (labels from Kafka, with offsets) and in
``riskwire replay`` (labels from a file, in event time, without offsets).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import orjson
from redis.exceptions import RedisError

from contracts.identity import event_ref
from contracts.records import Label, LabelKind
from pipeline.record_shapes import feature_row
from store.at_rest import AtRest
from store.connect import AsyncRedis
from store.decisions import read_records
from store.feature_state import FeatureStore
from store.online_checkpoint import Commit, OnlineCheckpoint

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


class CheckpointContended(RedisError):
    """Other writers kept winning the compare-and-set: retried like a Redis outage."""


class Learner(Protocol):
    """What label learning needs of ``models.learner.OnlineLearner``."""

    def learn(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[Any],
        p_batch: npt.NDArray[np.float64],
        times_ms: npt.NDArray[Any] | None = None,
    ) -> Any: ...

    def to_state(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LabelInput:
    """A label and, when it came from Kafka, where: ``("labels:3", 1234)``."""

    label: Label
    position: tuple[str, int] | None = None


@dataclass
class LearnOutcome:
    learned: int = 0
    duplicates: int = 0
    pending_added: int = 0
    pending_resolved: int = 0
    pending: int | None = None  # labels waiting for their event after this batch (None: unknown)
    pending_dropped: int = 0  # pending labels the TTL or the size cap removed in this batch
    drift: list[Any] = field(default_factory=list)


class LabelLearning:
    """Applies batches of labels to the feature store and the online learner."""

    def __init__(
        self,
        client: AsyncRedis,
        features: FeatureStore,
        checkpoint: OnlineCheckpoint,
        *,
        new_learner: Callable[[], Learner],
        load_learner: Callable[[dict[str, Any]], Learner],
        pending_retry: int = 200,
        cipher: AtRest | None = None,
        records: Callable[[list[str]], Awaitable[list[bytes | None]]] | None = None,
    ) -> None:
        """``records``: where the decision records are read (``PgDecisionStore.read`` when
        they live in PostgreSQL); by default Redis's, opened with ``cipher``."""
        self._redis = client
        self._records = records
        self._cipher = cipher or AtRest.off()  # decision records may be sealed at rest
        self.features = features
        self.checkpoint = checkpoint
        self._new = new_learner
        self._load = load_learner
        self._pending_retry = pending_retry

    async def apply(self, inputs: Sequence[LabelInput]) -> LearnOutcome:
        """Record the labels for label features, then learn the new ones exactly once."""
        if inputs:
            # Idempotent (a set per entity keyed by event id): safe to repeat on a retry.
            await self.features.record_labels([i.label for i in inputs])
        for _ in range(MAX_ATTEMPTS):
            outcome = await self._attempt(inputs)
            if outcome is not None:
                return outcome
        raise CheckpointContended(f"online checkpoint still contended after {MAX_ATTEMPTS} attempts")

    async def _attempt(self, inputs: Sequence[LabelInput]) -> LearnOutcome | None:
        snap = await self.checkpoint.load()
        learner = self._new() if snap.learner is None else self._load(snap.learner)
        offsets = dict(snap.offsets)
        fresh: dict[str, Label] = {}
        for item in inputs:
            if item.position is not None:
                where, offset = item.position
                if offset < offsets.get(where, 0):
                    continue  # learned before a crash or by the partition's previous owner
                offsets[where] = max(offsets.get(where, 0), offset + 1)
            # The latest word on an event wins; events are (account, event id).
            fresh[event_ref(item.label.account_id, item.label.event_id)] = item.label
        pending = await self.checkpoint.pending_sample(self._pending_retry)
        todo: dict[str, Label] = dict(fresh)
        for event_id, body in pending.items():
            todo.setdefault(event_id, Label.model_validate_json(body))  # a fresh label wins
        outcome = LearnOutcome()
        pending_drop: list[str] = []
        # Learned already (this label repeated, or a pending copy learned from a fresh one)?
        for event_id, kind in zip(list(todo), await self.checkpoint.seen(list(todo)), strict=True):
            if kind == todo[event_id].label.value:
                del todo[event_id]
                outcome.duplicates += event_id in fresh
                if event_id in pending:
                    pending_drop.append(event_id)
        if self._records is not None:
            records = await self._records(list(todo))
        else:
            records = await read_records(self._redis, list(todo), self._cipher)

        rows, ys, probs, times, learned_ids = [], [], [], [], []
        pending_add: list[tuple[str, bytes]] = []
        for (event_id, label), record in zip(todo.items(), records, strict=True):
            if record is None:
                if event_id in fresh:  # a pending label stays as filed; a new one is (re)filed
                    pending_add.append((event_id, label.model_dump_json().encode()))
                continue
            if event_id in pending:  # learned now, whichever copy was used
                pending_drop.append(event_id)
                outcome.pending_resolved += 1
            row, p_batch = features_of(orjson.loads(record))
            rows.append(row)
            ys.append(1 if label.label is LabelKind.FRAUD else 0)
            probs.append(p_batch)
            times.append(int(label.reported_at.timestamp() * 1000))
            learned_ids.append((event_id, label.label.value))
        if rows:
            drift = learner.learn(
                np.vstack(rows), np.array(ys, dtype=np.int8), np.array(probs), np.array(times)
            )
            outcome.drift = list(drift or [])
        outcome.learned = len(rows)
        outcome.pending_added = sum(1 for e, _ in pending_add if e not in pending)
        step = Commit(offsets=offsets, seen=learned_ids, pending_add=pending_add, pending_drop=pending_drop)
        if not await self.checkpoint.commit(snap.seq, learner.to_state(), step):
            log.info("online checkpoint moved on meanwhile; learning this batch again from it")
            return None
        outcome.pending, outcome.pending_dropped = self.checkpoint.pending, self.checkpoint.pending_dropped
        return outcome


def features_of(record: dict[str, Any]) -> tuple[npt.NDArray[np.float64], float]:
    """The catalogue's feature row a decision was made on, and the batch model's probability.

    Features the record lacks (it predates a catalogue change) are unknown (NaN).
    """
    row = feature_row(record)
    model = record.get("model") or {}
    p_batch = model.get("batch_probability", record.get("probability", 0.0))
    return row, float(p_batch)
