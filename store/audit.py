"""The audit log: one Redis stream entry per change an analyst or admin makes.

Entries are written in the same ``MULTI`` or Lua call as the change itself, so
a change without its entry (or the reverse) cannot happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from store.connect import AsyncRedis
from store.layout import AUDIT
from store.replies import text

AUDIT_FIELDS = ("who", "role", "account", "action", "target", "at", "before", "after")


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an API key (its id, role, account) or the command line."""

    who: str
    role: str
    account: str | None = None


CLI_ACTOR = Actor(who="cli", role="admin")


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _json(value: Any) -> str:
    return "" if value is None else orjson.dumps(value).decode()


def entry_fields(
    actor: Actor, action: str, target: str, before: Any, after: Any, at: str | None = None
) -> dict[str, str]:
    """The stream fields of one entry (``before``/``after`` as JSON, ``""`` for none)."""
    return {
        "who": actor.who,
        "role": actor.role,
        "account": actor.account or "",
        "action": action,
        "target": target,
        "at": at or now_rfc3339(),
        "before": _json(before),
        "after": _json(after),
    }


@dataclass(frozen=True)
class AuditEntry:
    id: str
    who: str
    role: str
    account: str | None
    action: str
    target: str
    at: str
    before: Any
    after: Any


def _decode(entry_id: object, fields: Mapping[Any, Any]) -> AuditEntry:
    f = {text(k): text(v) for k, v in fields.items()}
    return AuditEntry(
        id=text(entry_id),
        who=f.get("who", ""),
        role=f.get("role", ""),
        account=f.get("account") or None,
        action=f.get("action", ""),
        target=f.get("target", ""),
        at=f.get("at", ""),
        before=orjson.loads(f["before"]) if f.get("before") else None,
        after=orjson.loads(f["after"]) if f.get("after") else None,
    )


_U64 = 2**64 - 1


def valid_stream_id(value: str) -> bool:
    """``ms-seq`` with both parts in Redis' range.

    >>> valid_stream_id("1-0"), valid_stream_id("18446744073709551616-0")
    (True, False)
    """
    ms, _, seq = value.partition("-")
    return ms.isdigit() and seq.isdigit() and int(ms) <= _U64 and int(seq) <= _U64


def previous_stream_id(value: str) -> str | None:
    """The greatest stream id below ``value`` (None below ``0-0``).

    >>> previous_stream_id("5-0"), previous_stream_id("5-3"), previous_stream_id("0-0")
    ('4-18446744073709551615', '5-2', None)
    """
    ms, seq = (int(part) for part in value.split("-"))
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{_U64}" if ms > 0 else None


class AuditLog:
    def __init__(self, client: AsyncRedis, *, max_entries: int) -> None:
        self._redis = client
        self.max_entries = max_entries

    def add_to(self, pipe: Pipeline | ClusterPipeline, fields: dict[str, str]) -> None:
        """Queue an entry on a pipeline (``MULTI``) that also makes the change."""
        pipe.xadd(AUDIT, fields, maxlen=self.max_entries, approximate=True)  # type: ignore[arg-type]

    async def add(self, fields: dict[str, str]) -> None:
        await self._redis.xadd(AUDIT, fields, maxlen=self.max_entries, approximate=True)  # type: ignore[arg-type]

    async def page(self, limit: int, before_id: str | None) -> tuple[list[AuditEntry], str | None]:
        """Entries newest first, starting after ``before_id``; the id to continue from, if any."""
        high = "+"
        if before_id is not None:
            previous = previous_stream_id(before_id)
            if previous is None:
                return [], None
            high = previous
        rows = await self._redis.xrevrange(AUDIT, max=high, min="-", count=limit + 1) or []
        entries = [_decode(eid, fields or {}) for eid, fields in rows[:limit]]
        more = len(rows) > limit
        return entries, (entries[-1].id if more and entries else None)
