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

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from contracts.identity import event_ref
from contracts.records import Transaction
from features.aggregates import AGGREGATE_COUNT
from features.batch import BatchOutput, BatchPlan, Merge, plan_batch, run_plan
from features.codec import decode_raw_rows, encode_raw_rows
from features.labels import label_merges, newest_label
from store.feature_writes import Command, Config, Steps, StoreConflict, read_states, write_states
from store.layout import FeatureKeys

__all__ = [
    "Command", "Config", "Steps", "StoreConflict", "decode_stored", "peek_steps",
    "record_steps",
]  # fmt: skip


def record_steps(
    cfg: Config,
    transactions: Sequence[Transaction],
    positions: Sequence[tuple[int, int]] | None = None,
) -> Steps:
    """Record a batch and return its raw aggregates (``n × 81``), duplicates included."""
    keys = cfg.keys
    refs = [event_ref(tx.account_id, tx.event_id) for tx in transactions]
    first: dict[str, int] = {}
    for i, ref in enumerate(refs):
        first.setdefault(ref, i)
    unique = [transactions[i] for i in first.values()]
    urefs = list(first)
    if not unique:
        return np.empty((0, AGGREGATE_COUNT))
    src = np.full(len(unique), -1, dtype=np.int64)
    off = np.full(len(unique), -1, dtype=np.int64)
    if positions is not None:
        for j, i in enumerate(first.values()):
            src[j], off[j] = positions[i]
    plan = plan_batch(unique, cfg.names)
    cmds: list[Command] = [("HMGET", keys.event(ref), "a", "p", "l") for ref in urefs]
    cmds += [("GET", keys.entity(k, ident)) for k, ident in plan.entities]
    cmds.append(("GET", keys.since))
    replies = yield cmds
    n = len(unique)
    bodies, versions = read_states(replies[n:-1])
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
            if src[j] >= 0 and where == positionas_text(src[j], off[j]):
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
        names = plan.entities
        for r, j in enumerate(new):
            tx = unique[j]
            key = keys.event(urefs[j])
            value = positionas_text(src[j], off[j]) + blob[ol[r] : ol[r + 1]]
            card, merchant = names[int(plan.ent[j, 0])][1], names[int(plan.ent[j, 2])][1]
            # Four one-key commands: the first copy's result and position (HSETNX: written
            # once), the payment's card and merchant (their store names) and time for labels,
            # what is there now.
            cmds += [
                ("HSETNX", key, "a", value),
                ("HSET", key, "c", card, "m", merchant, "t", tx.occurred_ms),
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

    yield from write_states(cfg, plan, versions, out.states, rerun)

    raw = np.array(out.raw)
    if stored:
        rows = sorted(stored)
        raw[rows] = decode_stored([stored[j] for j in rows])
    index = {ref: j for j, ref in enumerate(urefs)}
    return raw[[index[ref] for ref in refs]]


def _meta(keys: FeatureKeys, since: int | None, out: BatchOutput) -> list[Command]:
    cmds: list[Command] = []
    if since is None and out.since is not None:
        cmds.append(("SET", keys.since, out.since, "NX"))
    if out.late_events:
        cmds.append(("INCRBY", keys.late, out.late_events))
    return cmds


def positionas_text(source: int, offset: int) -> bytes:
    """The Kafka position stored before an event's first result (``b"|"`` when none)."""
    return b"|" if source < 0 else f"{source} {offset}|".encode()


def split_first(value: bytes) -> tuple[bytes, bytes]:
    """An event hash's ``a`` as (position, encoded raw aggregates)."""
    cut = value.index(b"|") + 1
    return value[:cut], value[cut:]


def decode_stored(blobs: Sequence[bytes]) -> np.ndarray:
    """Raw aggregates from events' ``a`` fields (position, then the result), ``n × 81``."""
    if not blobs:
        return np.empty((0, AGGREGATE_COUNT))
    blobs = [split_first(b)[1] for b in blobs]
    starts = np.zeros(len(blobs), dtype=np.int64)
    np.cumsum([len(b) for b in blobs[:-1]], out=starts[1:])
    return decode_raw_rows(np.frombuffer(b"".join(blobs), dtype=np.uint8), starts, AGGREGATE_COUNT)


def peek_steps(cfg: Config, transactions: Sequence[Transaction]) -> Steps:
    """The raw aggregates these events would get now, recording nothing."""
    if not transactions:
        return np.empty((0, AGGREGATE_COUNT))
    plan = plan_batch(transactions, cfg.names)
    replies = yield [*(("GET", cfg.keys.entity(k, i)) for k, i in plan.entities), ("GET", cfg.keys.since)]
    bodies, _ = read_states(replies[:-1])
    since = int(replies[-1]) if replies[-1] is not None else None
    mode = np.ones(len(transactions), dtype=np.int8)
    return run_plan(plan, bodies, mode=mode, grace_ms=cfg.grace_ms, since=since, record=False).raw
