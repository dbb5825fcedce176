"""A payment's current label: which of two labels for one event counts.

Per event only the label with the greatest ``(reported_at, kind)`` counts, ``fraud`` above
``legit`` at equal times (docs/redis-keys.md, "Labels"). Stored as ``"{kind} {reported_ms}"``.

>>> a, b = LabelState(True, 5), LabelState(False, 5)
>>> newer(a, b), newer(b, a), newer(a, None), LabelState.parse(a.text) == a
(True, False, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.identity import event_ref
from contracts.records import Label, Transaction
from features.batch import BatchPlan, Merge, hash48

__all__ = ["LabelState", "label_merges", "merges_for", "newer", "newest_label"]


@dataclass(frozen=True)
class LabelState:
    fraud: bool
    reported_ms: int

    @classmethod
    def of(cls, label: Label) -> LabelState:
        return cls(label.label.value == "fraud", int(label.reported_at.timestamp() * 1000))

    @classmethod
    def parse(cls, text: str | bytes) -> LabelState:
        kind, rep = (text.decode() if isinstance(text, bytes) else text).split(" ")
        return cls(kind == "fraud", int(rep))

    @property
    def text(self) -> str:
        return f"{'fraud' if self.fraud else 'legit'} {self.reported_ms}"


def newer(new: LabelState, old: LabelState | None) -> bool:
    """Whether ``new`` replaces ``old`` as the event's label."""
    return old is None or (new.reported_ms, new.fraud) > (old.reported_ms, old.fraud)


def newest_label(a: bytes | None, b: bytes | None) -> bytes | None:
    """The current one of an event's recorded and pending labels."""
    if a is None or b is None:
        return a if b is None else b
    return b if newer(LabelState.parse(b), LabelState.parse(a)) else a


def label_merges(plan: BatchPlan, after: int, tx: Transaction, label: bytes | str) -> list[Merge]:
    """A label's entries for the card and merchant of the plan's event ``after`` (``tx``)."""
    card, merchant = (plan.entities[int(plan.ent[after, k])][1] for k in (0, 2))
    return merges_for(
        plan, after, event_ref(tx.account_id, tx.event_id), card, merchant, tx.occurred_ms, label
    )


def merges_for(
    plan: BatchPlan,
    after: int,
    ref: str,
    card: str,
    merchant: str,
    at: int,
    label: LabelState | bytes | str,
) -> list[Merge]:
    """Entries for the entities named ``card`` and ``merchant`` (store names) of event ``ref``."""
    state = label if isinstance(label, LabelState) else LabelState.parse(label)
    h = hash48(ref)
    return [
        Merge(plan.entity(kind, ident), after, h, at, state.reported_ms, state.fraud)
        for kind, ident in ((0, card), (2, merchant))
    ]
