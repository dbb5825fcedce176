"""The review queue's state changes: assign, close, and reopen (when a label could not be published).

Each change is one Lua call that checks the event's account and state, moves it
between the ``rw:{api}:rv:<status>`` queues, updates ``rw:{api}:review:<event_id>`` and
appends the audit entry, atomically: of two concurrent closes exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from store.at_rest import AtRest
from store.audit import Actor, AuditLog, entry_fields, now_rfc3339
from store.connect import AsyncRedis
from store.layout import API, meta_key, review_key
from store.replies import text
from store.scripts import script

_HEAD = script("review_head")

_ASSIGN = _HEAD + script("review_assign")

_CLOSE = _HEAD + script("review_close")

_REOPEN = _HEAD + script("review_reopen")


@dataclass(frozen=True)
class Transition:
    """The result of a state change: ``ok``, ``missing``, ``not_review`` or ``closed``."""

    outcome: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    scored_us: int = 0


def note_where(event_id: str) -> str:
    """The associated data of a review's sealed note: its hash and field."""
    return review_key(event_id) + "#note"


class ReviewStore:
    """Review state changes; an analyst's note is sealed at rest when ``cipher`` has keys."""

    def __init__(self, client: AsyncRedis, audit: AuditLog, cipher: AtRest | None = None) -> None:
        self._audit = audit
        self.cipher = cipher or AtRest.off()
        self._assign = client.register_script(_ASSIGN)
        self._close = client.register_script(_CLOSE)
        self._reopen = client.register_script(_REOPEN)

    def _head(self, event_id: str, scope: str | None, actor: Actor, action: str, at: str) -> list[str | int]:
        f = entry_fields(actor, action, event_id, None, None, at)
        return [
            API,  # the key prefix: the script's ARGV[1] once it takes it off
            event_id,
            scope or "",
            self._audit.max_entries,
            *(f[k] for k in ("who", "role", "account", "action", "target", "at")),
        ]

    def open_note(self, event_id: str, state: dict[str, Any]) -> dict[str, Any]:
        """``state`` with its note in clear."""
        note = state.get("note")
        if not isinstance(note, str) or not note:
            return state
        return {**state, "note": self.cipher.decrypt_text(note, note_where(event_id))}

    def _result(self, event_id: str, reply: list[Any]) -> Transition:
        outcome = text(reply[0])
        if outcome != "ok":
            return Transition(outcome)
        before, after = orjson.loads(reply[1]), orjson.loads(reply[2])
        return Transition(
            outcome,
            self.open_note(event_id, before),
            self.open_note(event_id, after),
            int(float(text(reply[3]))),
        )

    async def assign(self, event_id: str, *, scope: str | None, assignee: str, actor: Actor) -> Transition:
        args = self._head(event_id, scope, actor, "review.assign", now_rfc3339())
        return self._result(event_id, await self._assign(keys=[meta_key(event_id)], args=[*args, assignee]))

    async def close(
        self, event_id: str, *, scope: str | None, outcome: str, note: str | None, actor: Actor
    ) -> Transition:
        args = self._head(event_id, scope, actor, "review.close", now_rfc3339())
        sealed = self.cipher.encrypt_text(note, note_where(event_id)) if note else ""
        return self._result(
            event_id, await self._close(keys=[meta_key(event_id)], args=[*args, outcome, sealed])
        )

    async def reopen(
        self, event_id: str, closed: Transition, *, scope: str | None, actor: Actor
    ) -> Transition:
        """Undo ``closed`` (if nothing changed since): its label could not be published."""
        assert closed.before is not None and closed.after is not None
        args = self._head(event_id, scope, actor, "review.reopen", now_rfc3339())
        before_note = closed.before.get("note")
        if before_note:
            before_note = self.cipher.encrypt_text(before_note, note_where(event_id))
        return self._result(
            event_id,
            await self._reopen(
                keys=[meta_key(event_id)],
                args=[*args, closed.after["closed_at"], closed.before["status"], before_note or ""],
            ),
        )
