"""The three inputs of an evaluation (transactions, labels, decisions) joined on ``event_id``.

Decision files come from ``riskwire replay`` or are read back from the ``scores``
topic, whose delivery is at least once, so a repeated ``event_id`` is expected:
the first record is kept and the repeats are counted (and those that disagree
with the first, which would point at a non-idempotent pipeline, separately).
Anything that does not join (a decision or label for an event that is not in the
transactions file, an event nobody scored) is counted rather than dropped in
silence, because a quietly shrinking join is how an evaluation ends up flattering.

Only the fields the metrics need are checked (``event_id``, ``occurred_at`` and
``card_id`` of a transaction; ``probability``, ``risk_score`` and ``decision`` of
a decision record): the full contract is the pipeline's job, and a transaction
the pipeline rejected shows up here as an event without a decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import orjson

DECISION_CODES = {"allow": 0, "review": 1, "block": 2}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_PROGRESS_STEP = 1 << 20  # report progress once per MiB read, not once per line

Record = dict[str, Any]


@dataclass
class InputStats:
    """What was read and what did not join; the report prints the non-zero oddities."""

    transactions: int = 0
    duplicate_transactions: int = 0
    labels: int = 0
    fraud_events: int = 0
    labels_for_unknown_events: int = 0
    decisions: int = 0
    duplicate_decisions: int = 0
    conflicting_duplicates: int = 0
    decisions_for_unknown_events: int = 0
    events_without_decision: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def notes(self) -> list[str]:
        """Human-readable lines for every count that deserves a second look."""
        out = [f"{n:,} malformed {kind} records skipped" for kind, n in self.skipped.items() if n]
        checks = [
            (self.duplicate_transactions, "duplicate transactions ignored (first kept)"),
            (self.duplicate_decisions, "duplicate decisions ignored (first kept)"),
            (self.conflicting_duplicates, "of those duplicates disagree with the first record"),
            (self.decisions_for_unknown_events, "decisions for events not in the transactions file"),
            (self.labels_for_unknown_events, "labels for events not in the transactions file"),
            (self.events_without_decision, "transactions without a decision (not evaluated)"),
        ]
        out += [f"{n:,} {text}" for n, text in checks if n]
        return out


@dataclass(frozen=True)
class Dataset:
    """One row per transaction that has a decision, in transaction-file order.

    ``card_codes`` index ``card_ids``, which are sorted, so ordering by code is
    ordering by card id (the deterministic tie-break of Card Precision@k).
    """

    event_ids: list[str]
    card_ids: list[str]
    card_codes: npt.NDArray[np.int64]
    days: npt.NDArray[np.datetime64]
    probability: npt.NDArray[np.float64]
    risk_score: npt.NDArray[np.int64]
    decision: npt.NDArray[np.int8]
    fraud: npt.NDArray[np.bool_]
    stats: InputStats

    def __len__(self) -> int:
        return len(self.event_ids)

    @property
    def flagged_review(self) -> npt.NDArray[np.bool_]:
        """Events the engine sent to review or blocked: what the review threshold catches."""
        return np.asarray(self.decision >= DECISION_CODES["review"], dtype=np.bool_)

    @property
    def flagged_block(self) -> npt.NDArray[np.bool_]:
        """Events the engine blocked: what the block threshold catches."""
        return np.asarray(self.decision == DECISION_CODES["block"], dtype=np.bool_)


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utc_day(value: Any) -> int | None:
    """Days since 1970-01-01 of the UTC date of an RFC 3339 time, or None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).date().toordinal() - _EPOCH_ORDINAL


class _Builder:
    """Accumulates the join; transactions must all be added before decisions."""

    def __init__(self) -> None:
        self.stats = InputStats(skipped={"transaction": 0, "label": 0, "decision": 0})
        self.index: dict[str, int] = {}
        self.cards: list[str] = []
        self.days: list[int] = []
        self.fraud_ids: set[str] = set()
        self.scored: dict[int, tuple[float, int, int]] = {}

    def skip(self, kind: str) -> None:
        self.stats.skipped[kind] += 1

    def transaction(self, rec: Record) -> None:
        event_id, card_id, day = rec.get("event_id"), rec.get("card_id"), _utc_day(rec.get("occurred_at"))
        if (
            not (isinstance(event_id, str) and event_id and isinstance(card_id, str) and card_id)
            or day is None
        ):
            self.skip("transaction")
            return
        self.stats.transactions += 1
        if event_id in self.index:
            self.stats.duplicate_transactions += 1
            return
        self.index[event_id] = len(self.cards)
        self.cards.append(card_id)
        self.days.append(day)

    def label(self, rec: Record) -> None:
        event_id, kind = rec.get("event_id"), rec.get("label")
        if not (isinstance(event_id, str) and kind in ("fraud", "legit")):
            self.skip("label")
            return
        self.stats.labels += 1
        if event_id not in self.index:
            self.stats.labels_for_unknown_events += 1
        elif kind == "fraud":
            self.fraud_ids.add(event_id)

    def decision(self, rec: Record) -> None:
        event_id, p, score, kind = (rec.get(f) for f in ("event_id", "probability", "risk_score", "decision"))
        code = DECISION_CODES.get(kind) if isinstance(kind, str) else None
        if not (isinstance(event_id, str) and _number(p) and _number(score) and code is not None):
            self.skip("decision")
            return
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            self.skip("decision")
            return
        self.stats.decisions += 1
        row = self.index.get(event_id)
        if row is None:
            self.stats.decisions_for_unknown_events += 1
            return
        value = (float(p), int(score), code)
        first = self.scored.setdefault(row, value)
        if first is not value:
            self.stats.duplicate_decisions += 1
            self.stats.conflicting_duplicates += first != value

    def finish(self) -> Dataset:
        rows = np.fromiter(sorted(self.scored), dtype=np.int64, count=len(self.scored))
        values = [self.scored[r] for r in rows.tolist()]
        event_ids = list(self.index)
        self.stats.fraud_events = len(self.fraud_ids)
        self.stats.events_without_decision = len(self.index) - len(rows)
        card_ids, codes = np.unique(
            np.asarray(self.cards, dtype=object)[rows].astype(str), return_inverse=True
        )
        kept = [event_ids[r] for r in rows.tolist()]
        return Dataset(
            event_ids=kept,
            card_ids=card_ids.tolist(),
            card_codes=codes.astype(np.int64).reshape(-1),
            days=np.asarray(self.days, dtype=np.int64)[rows].astype("datetime64[D]"),
            probability=np.asarray([v[0] for v in values], dtype=np.float64),
            risk_score=np.asarray([v[1] for v in values], dtype=np.int64),
            decision=np.asarray([v[2] for v in values], dtype=np.int8),
            fraud=np.asarray([e in self.fraud_ids for e in kept], dtype=np.bool_),
            stats=self.stats,
        )


def build_dataset(
    transactions: Iterable[Record | None], labels: Iterable[Record | None], decisions: Iterable[Record | None]
) -> Dataset:
    """Join in-memory records; ``None`` items stand for unreadable lines and are counted as skipped."""
    builder = _Builder()
    for kind, records, add in (
        ("transaction", transactions, builder.transaction),
        ("label", labels, builder.label),
        ("decision", decisions, builder.decision),
    ):
        for rec in records:
            if rec is None:
                builder.skip(kind)
            else:
                add(rec)
    return builder.finish()


def read_records(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[Record | None]:
    """The objects of a JSON Lines file; ``None`` for a line that is not a JSON object.

    ``progress``, if given, is called with the number of bytes read since its last call.
    """
    pending = 0
    with Path(path).open("rb") as fh:
        for line in fh:
            pending += len(line)
            if progress is not None and pending >= _PROGRESS_STEP:
                progress(pending)
                pending = 0
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                rec = None
            yield rec if isinstance(rec, dict) else None
    if progress is not None and pending:
        progress(pending)


def load_dataset(
    transactions: Path,
    labels: Path,
    decisions: Path,
    progress: Callable[[int], None] | None = None,
) -> Dataset:
    """Read and join the three JSON Lines files; ``progress`` gets bytes read, as in ``read_records``."""
    return build_dataset(
        read_records(transactions, progress),
        read_records(labels, progress),
        read_records(decisions, progress),
    )
