"""Decision records in Redis: written once, read and searched by the API.

Every key names the event by its reference ``<account>:<event_id>``
(``store.identity.event_ref``): another account's event id is another event. Card,
customer and merchant values in indexes and metadata are their pseudonyms
(``EntityNames.index``).

``put_new`` stores a micro-batch in two round trips. First, per record, a small
Lua call in the record's own slot (pipelined; on a cluster one request per node,
since ``rw:decision:{<ref>}`` has the reference as hash tag): ``SET NX GET``
makes the first record for an event the only one, so a redelivered event gets back
(and republishes) exactly what was stored the first time. Then the index slot
(``rw:{api}:``) gets each event's account and entities
(``rw:{api}:dmeta:<ref>``), its entries in the search indexes and, for a
``review`` decision, in the review queue — for every event of the batch,
redelivered ones included, but only where the metadata does not exist yet: a crash
between the two steps leaves nothing unindexed once the batch is redelivered, and a
redelivered event never touches an indexed one (nor reopens its review). Index
scores are ``scored_at`` in epoch microseconds; every index written to is trimmed to
the decision TTL. The layout is in ``docs/redis-keys.md``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from contracts.records import Transaction
from store.at_rest import AtRest
from store.connect import AsyncRedis, get_many
from store.identity import EntityNames, event_ref
from store.keys import API, tagged
from store.wire import execute

DECISION_PREFIX = "rw:decision:"
META_PREFIX = API + "dmeta:"
#: Every account that has a stored decision (global keys' lookups by event id).
ACCOUNTS = API + "accounts"
INDEX_PREFIX = API + "dx:"
INDEX_ALL = INDEX_PREFIX + "all"
REVIEW_QUEUE_PREFIX = API + "rv:"
REVIEW_PREFIX = API + "review:"

#: Filters a search can check against ``dmeta``, in the order of its fields.
FILTERS = ("account", "card", "customer", "merchant", "level", "decision")
REVIEW_STATUSES = ("open", "assigned", "closed")
MAX_SCORE_US = 2**53 - 1


def decision_key(ref: str) -> str:
    """``rw:decision:{<ref>}``: the event's reference is the key's hash tag."""
    return tagged(DECISION_PREFIX, ref)


def meta_key(ref: str) -> str:
    return META_PREFIX + ref


def index_key(kind: str, value: str) -> str:
    """The search index of one filter value, e.g. ``index_key("card", "c1")``."""
    return f"{INDEX_PREFIX}{kind}:{value}"


def review_queue_key(status: str, account: str | None = None) -> str:
    return f"{REVIEW_QUEUE_PREFIX}{status}" + (f":{account}" if account else "")


def review_key(ref: str) -> str:
    return REVIEW_PREFIX + ref


# KEYS[1]: the index of every decision (it names the slot). ARGV: ttl_s, cut_us (members
# scored at or before it are trimmed), then per event: mode ('r': a record stored before:
# index it unless its dmeta exists), ref, account, card, customer, merchant (pseudonyms),
# risk_level, decision, scored_us. Returns the number of events indexed.
_INDEX = """
local P = 'rw:{api}:'
local ttl = tonumber(ARGV[1])
local cut = ARGV[2]
local touched, order = {}, {}
local function add(key, score, member)
  redis.call('ZADD', key, score, member)
  if not touched[key] then touched[key] = true; order[#order + 1] = key end
end
local n = 0
for i = 3, #ARGV, 9 do
  local mode, eid = ARGV[i], ARGV[i + 1]
  local account, card, customer, merchant = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local level, decision, score = ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local meta = P .. 'dmeta:' .. eid
  if redis.call('EXISTS', meta) == 0 then
    n = n + 1
    redis.call('HSET', meta, 'a', account, 'c', card, 'u', customer, 'm', merchant,
               'l', level, 'd', decision, 't', score)
    redis.call('EXPIRE', meta, ttl)
    add(P .. 'dx:all', score, eid)
    add(P .. 'dx:card:' .. card, score, eid)
    add(P .. 'dx:merchant:' .. merchant, score, eid)
    if account ~= '' then
      add(P .. 'dx:account:' .. account, score, eid)
      redis.call('SADD', P .. 'accounts', account)
    end
    if customer ~= '' then add(P .. 'dx:customer:' .. customer, score, eid) end
    if level ~= '' then add(P .. 'dx:level:' .. level, score, eid) end
    if decision ~= '' then add(P .. 'dx:decision:' .. decision, score, eid) end
    if decision == 'review' then
      -- A review that was worked before its metadata got lost stays in its queue.
      local status = redis.call('HGET', P .. 'review:' .. eid, 'status') or 'open'
      add(P .. 'rv:' .. status, score, eid)
      if account ~= '' then add(P .. 'rv:' .. status .. ':' .. account, score, eid) end
    end
  end
end
for _, key in ipairs(order) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cut)
  redis.call('EXPIRE', key, ttl)
end
return n
"""

# One page of a search. KEYS: the candidate index keys (one slot, rw:{api}:). ARGV: rev
# ('1' newest first), since_us, until_us, cursor score ('' = first page), cursor member,
# limit, budget, with_review ('1'), and the wanted account, card, customer, merchant,
# level, decision ('' = any). Walks the smallest candidate from the cursor's position
# (Redis orders ties by member, bytewise), checks the filters against dmeta (whose TTL is
# the record's: expired records are skipped). Returns {chosen candidate (1-based), next
# score, next member ('' at the end), {{member, score, review hash fields}, ...}}; the
# records themselves live in other slots and are read afterwards.
_SCAN = """
local P = 'rw:{api}:'
local nc = #KEYS
local chosen, key = 1, KEYS[1]
if nc > 1 then
  local best = redis.call('ZCARD', key)
  for i = 2, nc do
    local size = redis.call('ZCARD', KEYS[i])
    if size < best then best, chosen, key = size, i, KEYS[i] end
  end
end
local o = 1
local rev = ARGV[o] == '1'
local since_s, until_s = ARGV[o + 1], ARGV[o + 2]
local since, untl = tonumber(since_s), tonumber(until_s)
local cscore, cmember = ARGV[o + 3], ARGV[o + 4]
local limit, budget = tonumber(ARGV[o + 5]), tonumber(ARGV[o + 6])
local with_review = ARGV[o + 7] == '1'
local want = {}
for k = 1, 6 do want[k] = ARGV[o + 7 + k] end

local function lt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function outside(score)
  if rev then return score < since end
  return score > untl
end
local function rows_at(pos, count)
  if rev then return redis.call('ZRANGE', key, pos, pos + count - 1, 'REV', 'WITHSCORES') end
  return redis.call('ZRANGE', key, pos, pos + count - 1, 'WITHSCORES')
end

local pos
if cscore == '' then
  if rev then pos = redis.call('ZCOUNT', key, '(' .. until_s, '+inf')
  else pos = redis.call('ZCOUNT', key, '-inf', '(' .. since_s) end
else
  -- Members already seen: all strictly before the cursor's score, and the ties up to its member.
  local seen = 0
  for _, m in ipairs(redis.call('ZRANGE', key, cscore, cscore, 'BYSCORE')) do
    if rev then
      if not lt(m, cmember) then seen = seen + 1 end
    elseif not lt(cmember, m) then seen = seen + 1 end
  end
  if rev then pos = redis.call('ZCOUNT', key, '(' .. cscore, '+inf') + seen
  else pos = redis.call('ZCOUNT', key, '-inf', '(' .. cscore) + seen end
end

local items = {}
local scanned, last_s, last_m, done = 0, nil, nil, false
local chunk = math.max(limit * 2, 100)
while true do
  local count = math.min(chunk, budget - scanned)
  local rows = rows_at(pos, count)
  local stop = false
  for j = 1, #rows, 2 do
    local m, s = rows[j], rows[j + 1]
    if outside(tonumber(s)) then done = true; stop = true; break end
    scanned, pos, last_s, last_m = scanned + 1, pos + 1, s, m
    local meta = redis.call('HMGET', P .. 'dmeta:' .. m, 'a', 'c', 'u', 'm', 'l', 'd')
    local ok = meta[1] ~= false
    if ok then
      for k = 1, 6 do
        if want[k] ~= '' and meta[k] ~= want[k] then ok = false; break end
      end
    end
    if ok then
      local review = {}
      if with_review then review = redis.call('HGETALL', P .. 'review:' .. m) end
      items[#items + 1] = {m, s, review}
      if #items >= limit then stop = true; break end
    end
    if scanned >= budget then stop = true; break end
  end
  if stop then break end
  if #rows < 2 * count then done = true; break end
end
if not done and #items >= limit then
  local peek = rows_at(pos, 1)
  if #peek == 0 or outside(tonumber(peek[2])) then done = true end
end
if done or not last_s then return {chosen, '', '', items} end
return {chosen, last_s, last_m, items}
"""


@dataclass(frozen=True)
class Found:
    """A decision record a search found, with its index score and review state."""

    ref: str  # the event's reference (``store.identity.event_ref``)
    scored_us: int
    body: bytes
    review: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanPage:
    index: str  # the candidate index that was walked (a cursor must keep using it)
    items: list[Found]
    next: tuple[str, str] | None  # (score, member) to continue after; None at the end


def _scored_us(value: object, fallback: int) -> int:
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp() * 1_000_000)
        except ValueError:
            return fallback
    return fallback


# The pipeline writes these keys in this order; a quote that is not escaped only occurs
# around keys and string values in JSON, so this cannot match inside a string.
_HEAD_FIELDS = re.compile(
    rb'"scored_at":"([^"]+)","risk_score":\d+,"risk_level":"([a-z]+)","decision":"([a-z]+)"'
)


def index_fields(body: bytes, now_us: int) -> tuple[str, str, int]:
    """(risk level, decision, scored_at µs) of a stored record, for its index entries
    (a redelivered event's, or one ``put_new`` was given without its fields).

    A regular expression reads the pipeline's records (≈ 2 µs instead of ≈ 10 µs for
    parsing 2 KB); anything else is parsed.

    >>> index_fields(b'{"scored_at":"2026-01-01T00:00:00+00:00","risk_score":3,'
    ...              b'"risk_level":"normal","decision":"allow"}', 0)
    ('normal', 'allow', 1767225600000000)
    >>> index_fields(b'{"decision":"block","risk_level":"highest","scored_at":"2026-01-01T00:00:01Z"}', 0)
    ('highest', 'block', 1767225601000000)
    >>> index_fields(b'not json', 7)
    ('', '', 7)
    """
    fast = _HEAD_FIELDS.search(body)
    if fast is not None:
        scored = _scored_us(fast.group(1).decode(), -1)
        if scored >= 0:
            return fast.group(2).decode(), fast.group(3).decode(), scored
    try:
        record = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", "", now_us
    if not isinstance(record, dict):
        return "", "", now_us
    level, decision = record.get("risk_level"), record.get("decision")
    return (
        level if isinstance(level, str) else "",
        decision if isinstance(decision, str) else "",
        _scored_us(record.get("scored_at"), now_us),
    )


class _IndexPlan:
    """The index entries of new records as one-key commands in the ``{api}`` slot (one
    node, one connection, run in order): a new record has no entries yet, so nothing needs
    checking and no script. Each event's ``dmeta`` comes last, after all its entries: a
    worker killed while they are sent leaves no ``dmeta`` for a half-indexed event, and the
    redelivery (``_INDEX``, mode ``r``) indexes it whole. The entries of one index go in
    one ``ZADD`` (the batch's every decision in ``dx:all`` as one command)."""

    def __init__(self, ttl_s: int, cut_us: int, names: EntityNames) -> None:
        self.ttl_s, self.cut_us, self.names = ttl_s, cut_us, names
        self._adds: dict[str, list[object]] = {}
        self._meta: list[tuple[object, ...]] = []
        self._accounts: set[str] = set()

    @property
    def empty(self) -> bool:
        return not self._adds

    def _zadd(self, key: str, score: int, member: str) -> None:
        entries = self._adds.get(key)
        if entries is None:
            entries = self._adds[key] = []
        entries += (score, member)

    def add(self, tx: Transaction, account: str, level: str, decision: str, score: int) -> None:
        eid, pseudonym = event_ref(account, tx.event_id), self.names.index
        card, merchant = pseudonym("card", tx.card_id), pseudonym("merchant", tx.merchant_id)
        customer = pseudonym("customer", tx.customer_id) if tx.customer_id else ""
        self._zadd(INDEX_ALL, score, eid)
        self._zadd(index_key("card", card), score, eid)
        self._zadd(index_key("merchant", merchant), score, eid)
        if account:
            self._accounts.add(account)
        for kind, value in (("account", account), ("customer", customer), ("level", level)):
            if value:
                self._zadd(index_key(kind, value), score, eid)
        if decision:
            self._zadd(index_key("decision", decision), score, eid)
        if decision == "review":  # a new record: no review of it exists yet
            self._zadd(review_queue_key("open"), score, eid)
            if account:
                self._zadd(review_queue_key("open", account), score, eid)
        meta = META_PREFIX + eid
        fields = ("a", account, "c", card, "u", customer, "m", merchant)
        self._meta += [("HSET", meta, *fields, "l", level, "d", decision, "t", score)]
        self._meta.append(("EXPIRE", meta, self.ttl_s))

    def finish(self) -> list[tuple[object, ...]]:
        """Entries, then each touched index trimmed to the TTL, then the metadata."""
        cmds: list[tuple[object, ...]] = [("ZADD", key, *entries) for key, entries in self._adds.items()]
        for key in self._adds:
            cmds += [("ZREMRANGEBYSCORE", key, "-inf", self.cut_us), ("EXPIRE", key, self.ttl_s)]
        if self._accounts:
            cmds.append(("SADD", ACCOUNTS, *sorted(self._accounts)))
        return cmds + self._meta


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _open(cipher: AtRest, value: bytes | str, key: str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return cipher.decrypt(raw, key.encode())


async def read_records(client: AsyncRedis, refs: Sequence[str], cipher: AtRest) -> list[bytes | None]:
    """Stored records by reference, opened (None: none stored): for readers that hold no
    ``DecisionStore`` (label learning, rule backtests)."""
    keys = [decision_key(r) for r in refs]
    bodies = await get_many(client, keys)
    return [None if b is None else _open(cipher, b, k) for b, k in zip(bodies, keys, strict=True)]


class DecisionStore:
    """``indexed=False`` keeps the records only (no searches, no review queue): a private
    replay's Redis, which nothing else reads. ``names`` pseudonymises the card, customer
    and merchant values of indexes and metadata (``store.identity.load_names``);
    ``cipher`` seals the records at rest (``store.at_rest``, off unless keys are set), each
    bound to its key name. Every read of a record goes through this class."""

    def __init__(
        self,
        client: AsyncRedis,
        *,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
        indexed: bool = True,
        names: EntityNames | None = None,
        cipher: AtRest | None = None,
    ) -> None:
        self._redis = client
        self.cipher = cipher or AtRest.off()
        self._ttl_s = ttl_s
        self._clock = clock
        self._indexed = indexed
        self.names = names or EntityNames()
        self._execute = execute  # one-key commands, hiredis-packed (store/wire.py)
        self._write_records = execute  # the write-once step (its own name: tests stop either)
        self._index = client.register_script(_INDEX)
        self._scan = client.register_script(_SCAN)

    async def _put_records(self, records: Sequence[tuple[Transaction, bytes]]) -> list[bytes | None]:
        """The write-once step: per record the one stored before (opened), or None. One-key
        ``SET NX GET``s, pipelined (on a cluster one request per node)."""
        keys = [decision_key(event_ref(tx.account_id, tx.event_id)) for tx, _ in records]
        seal = self.cipher.encrypt
        cmds = [
            ("SET", key, seal(body, key.encode()), "NX", "GET", "EX", self._ttl_s)
            for key, (_, body) in zip(keys, records, strict=True)
        ]
        replies = await self._write_records(self._redis, cmds)
        return [None if old is None else self._open(old, key) for old, key in zip(replies, keys, strict=True)]

    def _open(self, value: bytes | str, key: str) -> bytes:
        return _open(self.cipher, value, key)

    async def read(self, refs: Sequence[str]) -> list[bytes | None]:
        """The records of these events (None: none stored), in one round trip per node."""
        return await read_records(self._redis, refs, self.cipher)

    async def put_new(
        self,
        records: Sequence[tuple[Transaction, bytes]],
        *,
        index: Sequence[tuple[str, str, int]] | None = None,
    ) -> list[bytes]:
        """Store each event's record unless one exists; return what is stored.

        ``index`` (the scorer's): each record's risk level, decision and ``scored_at`` in
        µs, so that a new record is indexed without reading them back out of its bytes.

        Two round trips: the records (write-once), then the index entries (account, card,
        customer, merchant, risk level, decision, and the review queue for ``review``
        decisions) of the new records; a redelivered event is indexed from the stored
        record if it never was, and an indexed one is left alone.
        """
        if not records:
            return []
        previous = await self._put_records(records)
        now_us = int(self._clock() * 1_000_000)
        cut_us = now_us - self._ttl_s * 1_000_000
        args: list[str | bytes | int] = [self._ttl_s, cut_us]
        plan = _IndexPlan(self._ttl_s, cut_us, self.names)
        pseudonym = self.names.index
        out: list[bytes] = []
        for i, ((tx, body), old) in enumerate(zip(records, previous, strict=True)):
            account = tx.account_id or ""
            if old is None:
                level, decision, scored_us = index_fields(body, now_us) if index is None else index[i]
                plan.add(tx, account, level, decision, scored_us)
                out.append(body)
                continue
            out.append(old)
            level, decision, scored_us = index_fields(old, now_us)  # another attempt's record
            customer = pseudonym("customer", tx.customer_id) if tx.customer_id else ""
            args += ["r", event_ref(account, tx.event_id), account, pseudonym("card", tx.card_id), customer]
            args += [pseudonym("merchant", tx.merchant_id), level, decision, scored_us]
        if self._indexed:
            if not plan.empty:
                await self._execute(self._redis, plan.finish())
            if len(args) > 2:  # redelivered events: indexed only where their metadata is missing
                await self._index(keys=[INDEX_ALL], args=args)
        return out

    async def get(self, ref: str) -> bytes | None:
        """The record of the event ``ref`` (``store.identity.event_ref``), or None."""
        value = await self._redis.get(decision_key(ref))
        return None if value is None else self._open(value, decision_key(ref))

    async def exists(self, refs: Sequence[str]) -> list[bool]:
        """Whether each event has a stored record, in one round trip."""
        if not refs:
            return []
        return [
            bool(n) for n in await self._execute(self._redis, [("EXISTS", decision_key(r)) for r in refs])
        ]

    async def find(self, event_id: str) -> list[tuple[str, bytes]]:
        """Every stored record of ``event_id``, whatever its account, as ``(ref, record)``:
        for keys that see every account. Two round trips (the accounts, then the records)."""
        accounts = sorted(_text(a) for a in await self._redis.smembers(ACCOUNTS))
        refs = [event_ref(None, event_id), *(event_ref(a, event_id) for a in accounts)]
        bodies = await self.read(refs)
        return [(ref, body) for ref, body in zip(refs, bodies, strict=True) if body is not None]

    async def scan(
        self,
        candidates: Sequence[str],
        wanted: Mapping[str, str | None],
        *,
        limit: int,
        budget: int,
        newest_first: bool = True,
        since_us: int = 0,
        until_us: int = MAX_SCORE_US,
        after: tuple[str, str] | None = None,
        with_review: bool = False,
    ) -> ScanPage:
        """One page of records from the smallest of ``candidates`` that match ``wanted``
        (keys of ``FILTERS``), in score order, starting after ``after``: one call in the
        index slot, then one read of the records found."""
        if not candidates:
            raise ValueError("a scan needs at least one index")
        args: list[str | int] = [
            "1" if newest_first else "0",
            since_us,
            until_us,
            after[0] if after else "",
            after[1] if after else "",
            limit,
            budget,
            "1" if with_review else "0",
        ]
        args += [wanted.get(name) or "" for name in FILTERS]
        chosen, next_score, next_member, rows = await self._scan(keys=list(candidates), args=args)
        bodies = await self.read([_text(row[0]) for row in rows])
        items = []
        for (member, score, review), body in zip(rows, bodies, strict=True):
            if body is None:  # expired since the index was read
                continue
            fields = [_text(v) for v in review]
            items.append(
                Found(
                    ref=_text(member),
                    scored_us=int(float(_text(score))),
                    body=body.encode() if isinstance(body, str) else body,
                    review=dict(zip(fields[::2], fields[1::2], strict=True)),
                )
            )
        nxt = (_text(next_score), _text(next_member)) if _text(next_score) else None
        return ScanPage(index=candidates[int(chosen) - 1], items=items, next=nxt)
