"""The online learner's checkpoint in Redis, written compare-and-set.

One JSON document holds everything that must move together: the learner's
state (River model, blend, drift detector, learned count) and, per ``labels``
partition, the next offset to learn from. It is replaced in one Lua call that
also marks the labels learned and files the ones whose event is not known yet,
and only if nobody committed since it was read — so a label is learned exactly
once even across crashes, rebalances and two workers sharing the topic.
Every key has the hash tag ``{ol}`` (one Redis Cluster slot). Layout:
docs/redis-keys.md, "Online learning".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from store.at_rest import AtRest
from store.connect import AsyncRedis
from store.layout import ONLINE_PENDING, ONLINE_PENDING_AT, ONLINE_SEEN, ONLINE_SEQ, ONLINE_STATE
from store.replies import text
from store.scripts import script

_COMMIT = script("online_commit")


@dataclass
class Snapshot:
    """A consistent read of the checkpoint (``seq`` 0: nothing committed yet)."""

    seq: int
    learner: dict[str, Any] | None
    offsets: dict[str, int] = field(default_factory=dict)


@dataclass
class Commit:
    """What one learning step changes besides the learner's state."""

    offsets: Mapping[str, int]
    seen: Sequence[tuple[str, str]] = ()
    pending_add: Sequence[tuple[str, bytes]] = ()
    pending_drop: Sequence[str] = ()


class OnlineCheckpoint:
    """Read and compare-and-set the learner's checkpoint."""

    def __init__(
        self,
        client: AsyncRedis,
        *,
        seen_ttl_s: int,
        pending_ttl_s: int = 7 * 24 * 3600,
        pending_max: int = 100_000,
        cipher: AtRest | None = None,
    ) -> None:
        self._redis = client
        self._cipher = cipher or AtRest.off()  # pending labels sealed at rest when it has keys
        self._seen_ttl_s = seen_ttl_s
        self._pending_ttl_ms = pending_ttl_s * 1000
        self._pending_max = pending_max
        self._commit = client.register_script(_COMMIT)
        #: After a commit: labels pending, and those the TTL or the cap dropped in it.
        self.pending = 0
        self.pending_dropped = 0

    async def seq(self) -> int:
        """The committed sequence number: one GET, cheap enough to poll."""
        return int(await self._redis.get(ONLINE_SEQ) or 0)

    async def load(self) -> Snapshot:
        seq, body = await self._redis.mget(ONLINE_SEQ, ONLINE_STATE)
        if body is None:
            return Snapshot(seq=int(seq or 0), learner=None)
        doc = orjson.loads(body)
        return Snapshot(seq=int(seq or 0), learner=doc["learner"], offsets=dict(doc["offsets"]))

    async def commit(self, expected_seq: int, learner: dict[str, Any], step: Commit) -> bool:
        """Replace the checkpoint if ``expected_seq`` is still current; False if someone else won."""
        args: list[str | bytes | int] = [
            expected_seq,
            orjson.dumps({"learner": learner, "offsets": dict(step.offsets)}),
            self._seen_ttl_s,
            self._pending_ttl_ms,
            self._pending_max,
            len(step.seen),
        ]
        for event_id, kind in step.seen:
            args += [event_id, kind]
        args.append(len(step.pending_add))
        for event_id, body in step.pending_add:
            args += [event_id, self._cipher.encrypt(body, _pending_where(event_id))]
        args += list(step.pending_drop)
        keys = [ONLINE_SEQ, ONLINE_STATE, ONLINE_PENDING, ONLINE_SEEN, ONLINE_PENDING_AT]
        reply = await self._commit(keys=keys, args=args)
        if int(reply[0]) < 0:
            return False
        self.pending, self.pending_dropped = int(reply[1]), int(reply[2])
        return True

    async def seen(self, event_ids: Sequence[str]) -> list[str | None]:
        """The label kind already learned for each event, or None."""
        if not event_ids:
            return []
        values = await self._redis.mget([ONLINE_SEEN + e for e in event_ids])
        return [None if v is None else (v.decode() if isinstance(v, bytes) else v) for v in values]

    async def pending_sample(self, count: int) -> dict[str, bytes]:
        """Up to ``count`` labels still waiting for their event."""
        if count <= 0:
            return {}
        raw = await self._redis.hrandfield(ONLINE_PENDING, count, withvalues=True)
        items = [v for v in raw or [] if isinstance(v, bytes | str)]
        pairs = ((text(items[i]), _bytes(items[i + 1])) for i in range(0, len(items), 2))
        return {e: self._cipher.decrypt(body, _pending_where(e)) for e, body in pairs}

    async def pending_count(self) -> int:
        return int(await self._redis.hlen(ONLINE_PENDING))


def _pending_where(event_id: str) -> bytes:
    return f"{ONLINE_PENDING}#{event_id}".encode()


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
