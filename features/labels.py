"""A payment's current label: which of two labels for one event counts.

Per event only the label with the greatest ``(reported_at, kind)`` counts, ``fraud`` above
``legit`` at equal times (docs/redis-keys.md, "Labels"). Stored as ``"{kind} {reported_ms}"``.

>>> a, b = LabelState(True, 5), LabelState(False, 5)
>>> newer(a, b), newer(b, a), newer(a, None), LabelState.parse(a.text) == a
(True, False, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.records import Label

__all__ = ["LabelState", "newer"]


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
