"""The review queue's state changes in PostgreSQL (issue 18): ``store.reviews.ReviewStore``'s
API (assign, close, reopen) where the decision records live in PostgreSQL.

Each change is one transaction: the review's row locked (``FOR UPDATE``: of two concurrent
closes exactly one wins), its account and state checked, the new state written and the
audit entry appended to the ``audit`` table. The entry is then also added to the Redis
audit stream, which the API's audit page still reads in this slice (after the commit: a
crash in between leaves the entry in PostgreSQL only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from contracts.identity import split_ref
from store.at_rest import AtRest
from store.audit import Actor, AuditLog, entry_fields, now_rfc3339
from store.database import LazyPool
from store.reviews import Transition, note_where

#: The fields of a review's state, as ``store/lua/review_head.lua`` has them.
FIELDS = ("status", "assignee", "assigned_at", "assigned_by", "outcome", "note", "closed_at", "closed_by")

_LOCK = "SELECT state, scored_us FROM reviews WHERE account = %s AND event_id = %s FOR UPDATE"
_DECIDED = "SELECT decision FROM decisions d JOIN decision_ids g USING (account, event_id, scored_at)"
_DECIDED += " WHERE g.account = %s AND g.event_id = %s"


def _view(stored: dict[str, Any]) -> dict[str, Any]:
    """Every field (None when unset), status ``open`` when never worked."""
    view = {f: stored.get(f) for f in FIELDS}
    view["status"] = view["status"] or "open"
    return view


#: A change: the state before → the fields to set (None: remove), or a refusal's outcome.
Change = Callable[[dict[str, Any], str], "dict[str, Any] | str"]


class PgReviewStore:
    """Review state changes; an analyst's note is sealed at rest when ``cipher`` has keys."""

    def __init__(self, pool: LazyPool, audit: AuditLog | None = None, cipher: AtRest | None = None) -> None:
        self._pool = pool
        self._audit = audit
        self.cipher = cipher or AtRest.off()

    def open_note(self, event_id: str, state: dict[str, Any]) -> dict[str, Any]:
        """``state`` with its note in clear."""
        note = state.get("note")
        if not isinstance(note, str) or not note:
            return state
        return {**state, "note": self.cipher.decrypt_text(note, note_where(event_id))}

    async def _change(
        self, ref: str, scope: str | None, actor: Actor, action: str, change: Change
    ) -> Transition:
        account, event_id = split_ref(ref)
        account = account or ""
        at = now_rfc3339()
        async with self._pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(_LOCK, (account, event_id))).fetchone()
            if row is None or (scope and account != scope):
                if row is None and not (scope and account != scope):
                    decided = await (await conn.execute(_DECIDED, (account, event_id))).fetchone()
                    if decided is not None:
                        return Transition("not_review")
                return Transition("missing")
            stored, scored_us = dict(row[0]), int(row[1])
            before = _view(stored)
            fields = change(before, at)
            if isinstance(fields, str):
                return Transition(fields)
            for name, value in fields.items():
                if value is None:
                    stored.pop(name, None)
                else:
                    stored[name] = value
            after = _view(stored)
            await conn.execute(
                "UPDATE reviews SET status = %s, state = %s WHERE account = %s AND event_id = %s",
                (after["status"], orjson.dumps(stored).decode(), account, event_id),
            )
            entry = entry_fields(actor, action, ref, before, after, at)
            await conn.execute(
                "INSERT INTO audit (account, at, actor, action, event_id, entry)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (entry["account"], at, actor.who, action, ref, orjson.dumps(entry).decode()),
            )
        if self._audit is not None:
            await self._audit.add(entry)
        return Transition("ok", self.open_note(ref, before), self.open_note(ref, after), scored_us)

    async def assign(self, event_id: str, *, scope: str | None, assignee: str, actor: Actor) -> Transition:
        def change(before: dict[str, Any], at: str) -> dict[str, Any] | str:
            if before["status"] == "closed":
                return "closed"
            return {"status": "assigned", "assignee": assignee, "assigned_at": at, "assigned_by": actor.who}

        return await self._change(event_id, scope, actor, "review.assign", change)

    async def close(
        self, event_id: str, *, scope: str | None, outcome: str, note: str | None, actor: Actor
    ) -> Transition:
        sealed = self.cipher.encrypt_text(note, note_where(event_id)) if note else None

        def change(before: dict[str, Any], at: str) -> dict[str, Any] | str:
            if before["status"] == "closed":
                return "closed"
            return {
                "status": "closed",
                "outcome": outcome,
                "closed_at": at,
                "closed_by": actor.who,
                "note": sealed,
            }

        return await self._change(event_id, scope, actor, "review.close", change)

    async def reopen(
        self, event_id: str, closed: Transition, *, scope: str | None, actor: Actor
    ) -> Transition:
        """Undo ``closed`` (if nothing changed since): its label could not be published."""
        assert closed.before is not None and closed.after is not None
        before_note = closed.before.get("note")
        sealed = self.cipher.encrypt_text(before_note, note_where(event_id)) if before_note else None
        closed_at, status = closed.after["closed_at"], closed.before["status"]

        def change(before: dict[str, Any], at: str) -> dict[str, Any] | str:
            if before["status"] != "closed" or before["closed_at"] != closed_at:
                return "changed"
            return {"outcome": None, "closed_at": None, "closed_by": None, "note": sealed, "status": status}

        return await self._change(event_id, scope, actor, "review.reopen", change)
