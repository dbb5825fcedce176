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
from store.keys import ONLINE

SEQ_KEY = ONLINE + "seq"
STATE_KEY = ONLINE + "state"
PENDING_KEY = ONLINE + "pending"
# When each pending label was filed (ms): they expire after a TTL, the oldest go first past a cap.
PENDING_AT_KEY = ONLINE + "pending:at"
SEEN_PREFIX = ONLINE + "seen:"

_COMMIT = """
-- KEYS: seq, state, pending, the seen prefix, pending filing times (one slot).
-- ARGV: expected seq, state JSON, seen TTL s, pending TTL ms, pending cap, #seen, seen pairs
--       (event_id, kind), #pending to add, pending pairs (event_id, label JSON), then ids to
--       drop from pending. Returns {-1} (someone committed first) | {seq, pending, dropped}.
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq ~= tonumber(ARGV[1]) then return {-1} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], seq + 1)
local ttl = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local i = 6
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('SET', KEYS[4] .. ARGV[i], ARGV[i + 1], 'EX', ttl)
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[5], now, ARGV[i])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('ZREM', KEYS[5], ARGV[i])
  i = i + 1
end
local dropped = 0
local function drop(ids)
  for _, id in ipairs(ids) do redis.call('HDEL', KEYS[3], id); redis.call('ZREM', KEYS[5], id) end
  dropped = dropped + #ids
end
drop(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, 1000))
local over = redis.call('ZCARD', KEYS[5]) - tonumber(ARGV[5])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[5], over)
  local ids = {}
  for j = 1, #popped, 2 do ids[#ids + 1] = popped[j] end
  drop(ids)
end
return {seq + 1, redis.call('HLEN', KEYS[3]), dropped}
"""


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
        return int(await self._redis.get(SEQ_KEY) or 0)

    async def load(self) -> Snapshot:
        seq, body = await self._redis.mget(SEQ_KEY, STATE_KEY)
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
        keys = [SEQ_KEY, STATE_KEY, PENDING_KEY, SEEN_PREFIX, PENDING_AT_KEY]
        reply = await self._commit(keys=keys, args=args)
        if int(reply[0]) < 0:
            return False
        self.pending, self.pending_dropped = int(reply[1]), int(reply[2])
        return True

    async def seen(self, event_ids: Sequence[str]) -> list[str | None]:
        """The label kind already learned for each event, or None."""
        if not event_ids:
            return []
        values = await self._redis.mget([SEEN_PREFIX + e for e in event_ids])
        return [None if v is None else (v.decode() if isinstance(v, bytes) else v) for v in values]

    async def pending_sample(self, count: int) -> dict[str, bytes]:
        """Up to ``count`` labels still waiting for their event."""
        if count <= 0:
            return {}
        raw = await self._redis.hrandfield(PENDING_KEY, count, withvalues=True)
        items = [v for v in raw or [] if isinstance(v, bytes | str)]
        pairs = ((_text(items[i]), _bytes(items[i + 1])) for i in range(0, len(items), 2))
        return {e: self._cipher.decrypt(body, _pending_where(e)) for e, body in pairs}

    async def pending_count(self) -> int:
        return int(await self._redis.hlen(PENDING_KEY))


def _pending_where(event_id: str) -> bytes:
    return f"{PENDING_KEY}#{event_id}".encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
