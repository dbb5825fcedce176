"""The online store's round trips, written once for the sync and the async client.

Each operation is a generator that yields a list of Redis commands and receives their
replies, so ``online_store`` only runs pipelines. Recording a batch takes three round
trips (docs/redis-keys.md, "Online features"):

1. read: each new event's hash (first result, Kafka position, pending label) and each
   entity state, with one command per key;
2. guard: each new event's first result, written once (``HSETNX``) *before* any state
   changes, with its Kafka position;
3. states: a compare-and-set per changed entity (``cas.lua``). A state another worker
   changed meanwhile is read again and this batch's events are applied to it again.

Every command touches one key, so the same code runs on Redis Cluster. A crash between 2
and 3 is repaired by the redelivery: the event's hash holds the same position, the event
is recorded where an entity's watermark for that partition is below its offset, and its
first result is returned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from redis.exceptions import RedisError

from contracts.records import Label, Transaction
from features.aggregates import AGGREGATE_COUNT
from features.batch import ENTITY_KINDS, BatchOutput, BatchPlan, Merge, hash48, plan_batch, run_plan
from features.codec import decode_raw_rows, encode_raw_rows
from features.labels import LabelState, newer

__all__ = [
    "CAS_RETRIES", "Command", "Config", "Keys", "Steps", "StoreConflict", "decode_stored",
    "label_merges", "label_steps", "peek_steps", "record_steps",
]  # fmt: skip

Command = tuple[object, ...]
Steps = Generator[list[Command], list[Any], Any]
VERSION_BYTES = 8
CAS_RETRIES = 50
DAY_MS = 86_400_000


class StoreConflict(RedisError):
    """Entity states kept changing under this batch: like an outage, the worker retries the
    batch whole (``stream.handler.RETRYABLE``) instead of dead-lettering its events."""


@dataclass(frozen=True)
class Keys:
    """Key names (docs/redis-keys.md): one hash tag per entity and per event."""

    prefix: str = "rw:"

    def entity(self, kind: int, ident: str) -> str:
        return f"{self.prefix}f:{{{ENTITY_KINDS[kind]}:{ident}}}"

    def event(self, event_id: str) -> str:
        return f"{self.prefix}f:{{ev:{event_id}}}"

    @property
    def since(self) -> str:
        return f"{self.prefix}f:meta:history_since"

    @property
    def late(self) -> str:
        return f"{self.prefix}f:meta:late_events"


@dataclass(frozen=True)
class Config:
    keys: Keys
    grace_ms: int
    dedupe_ttl_ms: int
    label_sha: str
    cas_sha: str
    native_cas: bool = False

    @property
    def state_ttl_ms(self) -> int:
        return 31 * DAY_MS + self.grace_ms


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _states(replies: Sequence[object]) -> tuple[list[bytes | None], list[bytes]]:
    """Bodies (version stripped) and the values as read (``b""`` = absent) of states."""
    bodies: list[bytes | None] = []
    olds: list[bytes] = []
    for r in replies:
        if isinstance(r, bytes) and len(r) > VERSION_BYTES:
            olds.append(r)
            bodies.append(r[VERSION_BYTES:])
        else:
            olds.append(b"")
            bodies.append(None)
    return bodies, olds


def cas_command(cfg: Config, key: str, old: bytes, new: bytes) -> Command:
    """Write ``new`` if the key still holds ``old`` (``b""``: if it is still absent).

    ``SET … IFEQ`` where the server has it (Valkey 8.1+, Redis 8.4+), else ``cas.lua``
    comparing the 8-byte version at the start of the value.
    """
    if not old:
        return ("SET", key, new, "NX", "PX", cfg.state_ttl_ms)
    if cfg.native_cas:
        return ("SET", key, new, "IFEQ", old, "PX", cfg.state_ttl_ms)
    return ("EVALSHA", cfg.cas_sha, 1, key, old[:VERSION_BYTES], new, cfg.state_ttl_ms)


def _written(reply: object) -> bool:
    return reply == b"OK" or reply == "OK" or reply == 1


def _restrict(plan: BatchPlan, chosen: Sequence[int]) -> BatchPlan:
    """The plan with only the ``chosen`` entities (the others absent)."""
    remap = np.full(len(plan.entities) + 1, -1, dtype=np.int64)
    remap[np.asarray(chosen, dtype=np.int64)] = np.arange(len(chosen))
    ent = np.where(plan.ent >= 0, remap[plan.ent], -1)
    entities = [plan.entities[e] for e in chosen]
    return replace(plan, ent=ent, entities=entities, index={k: i for i, k in enumerate(entities)})


Rerun = Callable[[BatchPlan, list[bytes | None]], list[bytes | None]]


def _write_states(
    cfg: Config, plan: BatchPlan, versions: list[bytes], out_states: Sequence[bytes | None], rerun: Rerun
) -> Steps:
    """Compare-and-set every changed state; re-read and re-apply the ones that lost a race.

    ``rerun(sub_plan, bodies)`` gives the states of the events applied again to fresh bodies.
    """
    keys = cfg.keys
    todo = [e for e, s in enumerate(out_states) if s is not None]
    states = dict(enumerate(out_states))
    for _ in range(CAS_RETRIES):
        if not todo:
            return None
        fresh = os.urandom(VERSION_BYTES * len(todo))
        cmds: list[Command] = []
        for j, e in enumerate(todo):
            body = states[e]
            assert body is not None
            version = fresh[j * VERSION_BYTES : (j + 1) * VERSION_BYTES]
            key = keys.entity(*plan.entities[e])
            cmds.append(cas_command(cfg, key, versions[e], version + body))
        replies = yield cmds
        lost = [e for e, ok in zip(todo, replies, strict=True) if not _written(ok)]
        if not lost:
            return None
        reread = yield [("GET", keys.entity(*plan.entities[e])) for e in lost]
        bodies, fresh_versions = _states(reread)
        sub = _restrict(plan, lost)
        again = rerun(sub, bodies)
        todo = []
        for j, e in enumerate(lost):
            versions[e] = fresh_versions[j]
            states[e] = again[j]
            if again[j] is not None:
                todo.append(e)
    raise StoreConflict(f"entity states kept changing: {len(todo)} still conflicting")


def record_steps(
    cfg: Config,
    transactions: Sequence[Transaction],
    positions: Sequence[tuple[int, int]] | None = None,
) -> Steps:
    """Record a batch and return its raw aggregates (``n × 81``), duplicates included."""
    keys = cfg.keys
    first: dict[str, int] = {}
    for i, tx in enumerate(transactions):
        first.setdefault(tx.event_id, i)
    unique = [transactions[i] for i in first.values()]
    if not unique:
        return np.empty((0, AGGREGATE_COUNT))
    src = np.full(len(unique), -1, dtype=np.int64)
    off = np.full(len(unique), -1, dtype=np.int64)
    if positions is not None:
        for j, i in enumerate(first.values()):
            src[j], off[j] = positions[i]
    plan = plan_batch(unique)
    cmds: list[Command] = [("HMGET", keys.event(tx.event_id), "a", "p", "l") for tx in unique]
    cmds += [("GET", keys.entity(k, ident)) for k, ident in plan.entities]
    cmds.append(("GET", keys.since))
    replies = yield cmds
    n = len(unique)
    bodies, versions = _states(replies[n:-1])
    since_reply = replies[-1]
    since = int(since_reply) if since_reply is not None else None

    mode = np.ones(n, dtype=np.int8)
    stored: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    merges: list[Merge] = []
    for j, tx in enumerate(unique):
        a, p, lab = replies[j]
        if a is not None:
            stored[j] = a
            where = split_first(a)[0]
            mode[j] = 0
            if src[j] >= 0 and where == position_text(src[j], off[j]):
                # An attempt that crashed before writing every state: record the event where
                # an entity's watermark shows it missing, and merge its label again.
                mode[j] = 2
                if (current := newest_label(lab, p)) is not None:
                    merges += label_merges(plan, j, tx, current)
        elif p is not None:
            pending[j] = p
            merges += label_merges(plan, j, tx, p)

    def run(sub: BatchPlan, states: Sequence[bytes | None], m: np.ndarray) -> BatchOutput:
        chosen = [replace(g, entity=sub.index[plan.entities[g.entity]])
                  for g in merges if plan.entities[g.entity] in sub.index]  # fmt: skip
        return run_plan(sub, states, mode=m, grace_ms=cfg.grace_ms, since=since, source=src,
                        offset=off, merges=chosen)  # fmt: skip

    out = run(plan, bodies, mode)
    new = [j for j in range(n) if mode[j] == 1]
    if new:
        enc, offs = encode_raw_rows(out.raw[new])
        blob = enc.tobytes()
        ol = offs.tolist()
        cmds = []
        for r, j in enumerate(new):
            tx = unique[j]
            key = keys.event(tx.event_id)
            value = position_text(src[j], off[j]) + blob[ol[r] : ol[r + 1]]
            # Four one-key commands: the first copy's result and position (HSETNX: written
            # once), the payment's card, merchant and time for labels, what is there now.
            cmds += [
                ("HSETNX", key, "a", value),
                ("HSET", key, "c", tx.card_id, "m", tx.merchant_id, "t", tx.occurred_ms),
                ("HMGET", key, "a", "p"),
                ("PEXPIRE", key, cfg.dedupe_ttl_ms),
            ]
        # The history start goes with the first results that used it.
        cmds += _meta(keys, since, out)
        replies = yield cmds
        again = False
        for r, j in enumerate(new):
            created, (now, label_now) = replies[4 * r], replies[4 * r + 2]
            if int(created) == 0:  # another worker recorded it first: its result, its counts
                stored[j] = now
                mode[j] = 0
                again = True
            elif label_now is not None and label_now != pending.get(j):  # a label came meanwhile
                merges += label_merges(plan, j, unique[j], label_now)
                again = True
        if again:
            out = replace(run(plan, bodies, mode), raw=out.raw)

    elif meta := _meta(keys, since, out):  # a batch of repaired events only
        yield meta

    def rerun(sub: BatchPlan, fresh: list[bytes | None]) -> list[bytes | None]:
        return run(sub, fresh, np.where(mode == 0, 0, 2).astype(np.int8)).states

    yield from _write_states(cfg, plan, versions, out.states, rerun)

    raw = np.array(out.raw)
    if stored:
        rows = sorted(stored)
        raw[rows] = decode_stored([stored[j] for j in rows])
    index = {tx.event_id: j for j, tx in enumerate(unique)}
    return raw[[index[tx.event_id] for tx in transactions]]


def _meta(keys: Keys, since: int | None, out: BatchOutput) -> list[Command]:
    cmds: list[Command] = []
    if since is None and out.since is not None:
        cmds.append(("SET", keys.since, out.since, "NX"))
    if out.late_events:
        cmds.append(("INCRBY", keys.late, out.late_events))
    return cmds


def position_text(source: int, offset: int) -> bytes:
    """The Kafka position stored before an event's first result (``b"|"`` when none)."""
    return b"|" if source < 0 else f"{source} {offset}|".encode()


def split_first(value: bytes) -> tuple[bytes, bytes]:
    """An event hash's ``a`` as (position, encoded raw aggregates)."""
    cut = value.index(b"|") + 1
    return value[:cut], value[cut:]


def newest_label(a: bytes | None, b: bytes | None) -> bytes | None:
    """The current one of an event's recorded and pending labels."""
    if a is None or b is None:
        return a if b is None else b
    return b if newer(LabelState.parse(b), LabelState.parse(a)) else a


def decode_stored(blobs: Sequence[bytes]) -> np.ndarray:
    """Raw aggregates from events' ``a`` fields (position, then the result), ``n × 81``."""
    if not blobs:
        return np.empty((0, AGGREGATE_COUNT))
    blobs = [split_first(b)[1] for b in blobs]
    starts = np.zeros(len(blobs), dtype=np.int64)
    np.cumsum([len(b) for b in blobs[:-1]], out=starts[1:])
    return decode_raw_rows(np.frombuffer(b"".join(blobs), dtype=np.uint8), starts, AGGREGATE_COUNT)


def label_merges(plan: BatchPlan, after: int, tx: Transaction, label: bytes | str) -> list[Merge]:
    """A label's entries for the event's card and merchant, applied after event ``after``."""
    return merges_for(plan, after, tx.event_id, tx.card_id, tx.merchant_id, tx.occurred_ms, label)


def merges_for(
    plan: BatchPlan, after: int, event_id: str, card: str, merchant: str, at: int, label: bytes | str
) -> list[Merge]:
    state = LabelState.parse(label)
    h = hash48(event_id)
    return [
        Merge(plan.entity(kind, ident), after, h, at, state.reported_ms, state.fraud)
        for kind, ident in ((0, card), (2, merchant))
    ]


def peek_steps(cfg: Config, transactions: Sequence[Transaction]) -> Steps:
    """The raw aggregates these events would get now, recording nothing."""
    if not transactions:
        return np.empty((0, AGGREGATE_COUNT))
    plan = plan_batch(transactions)
    replies = yield [*(("GET", cfg.keys.entity(k, i)) for k, i in plan.entities), ("GET", cfg.keys.since)]
    bodies, _ = _states(replies[:-1])
    since = int(replies[-1]) if replies[-1] is not None else None
    mode = np.ones(len(transactions), dtype=np.int8)
    return run_plan(plan, bodies, mode=mode, grace_ms=cfg.grace_ms, since=since, record=False).raw


def label_steps(cfg: Config, labels: Sequence[Label]) -> Steps:
    """Apply a batch of labels; returns how many changed anything (docs/redis-keys.md, "Labels").

    The entries go into the card and merchant states first, then the event's hash takes the
    label (``label.lua``): a crash in between leaves the hash's label older, so the same
    label redelivered is merged again (merging is idempotent) and then recorded.
    """
    if not labels:
        return 0
    keys = cfg.keys
    ids = list(dict.fromkeys(lab.event_id for lab in labels))
    replies = yield [("HMGET", keys.event(e), "a", "l", "c", "m", "t", "p") for e in ids]
    known = {e: r for e, r in zip(ids, replies, strict=True) if r[0] is not None}
    stored = {e: newest_label(r[1], r[5]) for e, r in known.items()}
    current = {e: (None if t is None else LabelState.parse(t)) for e, t in stored.items()}
    for lab in labels:
        state = LabelState.of(lab)
        if lab.event_id in current and newer(state, current[lab.event_id]):
            current[lab.event_id] = state
    plan = plan_batch([])
    merges: list[Merge] = []
    for e, r in known.items():
        now, before = current[e], stored[e]
        if now is not None and (before is None or now != LabelState.parse(before)):
            merges += merges_for(plan, -1, e, _text(r[2]), _text(r[3]), int(r[4]), now.text)
    yield from _merge_states(cfg, plan, merges)
    replies = yield [
        ("EVALSHA", cfg.label_sha, 1, keys.event(lab.event_id), lab.label.value,
         int(lab.reported_at.timestamp() * 1000), cfg.dedupe_ttl_ms)
        for lab in labels
    ]  # fmt: skip
    changed = 0
    late: list[Merge] = []
    plan = plan_batch([])
    for lab, reply in zip(labels, replies, strict=True):
        status = int(reply[0])
        changed += status != 0
        if status == 1 and lab.event_id not in known:  # recorded since the read above
            _, card, merchant, at = reply
            text = LabelState.of(lab).text
            late += merges_for(plan, -1, lab.event_id, _text(card), _text(merchant), int(at), text)
    yield from _merge_states(cfg, plan, late)
    return changed


def _merge_states(cfg: Config, plan: BatchPlan, merges: list[Merge]) -> Steps:
    """Merge label entries into the states they name (read, merge, compare-and-set)."""
    if not merges:
        return None
    replies = yield [("GET", cfg.keys.entity(k, i)) for k, i in plan.entities]
    bodies, versions = _states(replies)
    none = np.zeros(0, dtype=np.int8)

    def run(sub: BatchPlan, states: Sequence[bytes | None]) -> list[bytes | None]:
        chosen = [replace(g, entity=sub.index[plan.entities[g.entity]])
                  for g in merges if plan.entities[g.entity] in sub.index]  # fmt: skip
        return run_plan(sub, states, mode=none, grace_ms=cfg.grace_ms, since=None, merges=chosen).states

    yield from _write_states(cfg, plan, versions, run(plan, bodies), run)
    return None
