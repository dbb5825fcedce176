"""The review queue's state changes: assign, close, and reopen (when a label could not be published).

Each change is one Lua call that checks the event's account and state, moves it
between the ``rw:{api}:rv:<status>`` queues, updates ``rw:{api}:review:<event_id>`` and
appends the audit entry, atomically: of two concurrent closes exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from api.audit import Actor, AuditLog, entry_fields, now_rfc3339
from pipeline.decision_store import meta_key, review_key
from store.at_rest import AtRest
from store.connect import AsyncRedis

# Shared head: KEYS[1] the event's dmeta (it names the slot, rw:{api}:); ARGV[1] event id,
# ARGV[2] account scope ('' = any), ARGV[3] audit maxlen,
# ARGV[4..9] audit who, role, account, action, target, at; then per script.
_HEAD = """
local P = 'rw:{api}:'
local eid, scope = ARGV[1], ARGV[2]
local meta = redis.call('HMGET', P .. 'dmeta:' .. eid, 'a', 'd', 't')
if not meta[1] or (scope ~= '' and meta[1] ~= scope) then return {'missing'} end
if meta[2] ~= 'review' then return {'not_review'} end
local account, score = meta[1], meta[3]
local rkey = P .. 'review:' .. eid
local FIELDS = {'status', 'assignee', 'assigned_at', 'assigned_by',
                'outcome', 'note', 'closed_at', 'closed_by'}
local function state()
  local v = redis.call('HMGET', rkey, unpack(FIELDS))
  local s = {}
  for i, f in ipairs(FIELDS) do s[f] = v[i] or cjson.null end
  if s.status == cjson.null then s.status = 'open' end
  return s
end
local function move(from, to)
  redis.call('ZREM', P .. 'rv:' .. from, eid)
  redis.call('ZADD', P .. 'rv:' .. to, score, eid)
  if account ~= '' then
    redis.call('ZREM', P .. 'rv:' .. from .. ':' .. account, eid)
    redis.call('ZADD', P .. 'rv:' .. to .. ':' .. account, score, eid)
  end
end
local function finish(before)
  local ttl = redis.call('PTTL', P .. 'dmeta:' .. eid)
  if ttl > 0 then redis.call('PEXPIRE', rkey, ttl) end
  local after = state()
  local b, a = cjson.encode(before), cjson.encode(after)
  redis.call('XADD', P .. 'audit', 'MAXLEN', '~', ARGV[3], '*', 'who', ARGV[4], 'role', ARGV[5],
             'account', ARGV[6], 'action', ARGV[7], 'target', ARGV[8], 'at', ARGV[9],
             'before', b, 'after', a)
  return {'ok', b, a, score}
end
local before = state()
"""

# ARGV[10] assignee.
_ASSIGN = (
    _HEAD
    + """
if before.status == 'closed' then return {'closed'} end
redis.call('HSET', rkey, 'status', 'assigned', 'assignee', ARGV[10], 'assigned_at', ARGV[9],
           'assigned_by', ARGV[4])
move(before.status, 'assigned')
return finish(before)
"""
)

# ARGV[10] outcome, ARGV[11] note ('' = none).
_CLOSE = (
    _HEAD
    + """
if before.status == 'closed' then return {'closed'} end
redis.call('HSET', rkey, 'status', 'closed', 'outcome', ARGV[10], 'closed_at', ARGV[9], 'closed_by', ARGV[4])
if ARGV[11] ~= '' then redis.call('HSET', rkey, 'note', ARGV[11]) else redis.call('HDEL', rkey, 'note') end
move(before.status, 'closed')
return finish(before)
"""
)

# Undo a close whose label was not published. ARGV[10] the closed_at it set, ARGV[11] the
# status before it, ARGV[12] the note before it ('' = none).
_REOPEN = (
    _HEAD
    + """
if before.status ~= 'closed' or before.closed_at ~= ARGV[10] then return {'changed'} end
redis.call('HDEL', rkey, 'outcome', 'closed_at', 'closed_by', 'note')
if ARGV[12] ~= '' then redis.call('HSET', rkey, 'note', ARGV[12]) end
redis.call('HSET', rkey, 'status', ARGV[11])
move('closed', ARGV[11])
return finish(before)
"""
)


@dataclass(frozen=True)
class Transition:
    """The result of a state change: ``ok``, ``missing``, ``not_review`` or ``closed``."""

    outcome: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    scored_us: int = 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
        outcome = _text(reply[0])
        if outcome != "ok":
            return Transition(outcome)
        before, after = orjson.loads(reply[1]), orjson.loads(reply[2])
        return Transition(
            outcome,
            self.open_note(event_id, before),
            self.open_note(event_id, after),
            int(float(_text(reply[3]))),
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
