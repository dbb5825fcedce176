"""Writing entity states: one compare-and-set per state, re-applied where another worker
won (docs/redis-keys.md, "Online features", step 3), and the key names and settings the
store's steps share. Every command names one key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from redis.exceptions import RedisError

from contracts.identity import EntityNames
from features.batch import BatchPlan
from store.layout import FeatureKeys

__all__ = [
    "CAS_RETRIES", "Command", "Config", "Rerun", "Steps", "StoreConflict", "as_text", "cas_command",
    "read_states", "restrict", "write_states",
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
class Config:
    keys: FeatureKeys
    grace_ms: int
    dedupe_ttl_ms: int
    label_sha: str
    cas_sha: str
    native_cas: bool = False
    names: EntityNames = field(default_factory=EntityNames)

    @property
    def state_ttl_ms(self) -> int:
        return 31 * DAY_MS + self.grace_ms


def as_text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def read_states(replies: Sequence[object]) -> tuple[list[bytes | None], list[bytes]]:
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


def restrict(plan: BatchPlan, chosen: Sequence[int]) -> BatchPlan:
    """The plan with only the ``chosen`` entities (the others absent)."""
    remap = np.full(len(plan.entities) + 1, -1, dtype=np.int64)
    remap[np.asarray(chosen, dtype=np.int64)] = np.arange(len(chosen))
    ent = np.where(plan.ent >= 0, remap[plan.ent], -1)
    entities = [plan.entities[e] for e in chosen]
    return replace(plan, ent=ent, entities=entities, index={k: i for i, k in enumerate(entities)})


Rerun = Callable[[BatchPlan, list[bytes | None]], list[bytes | None]]


def write_states(
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
        bodies, fresh_versions = read_states(reread)
        sub = restrict(plan, lost)
        again = rerun(sub, bodies)
        todo = []
        for j, e in enumerate(lost):
            versions[e] = fresh_versions[j]
            states[e] = again[j]
            if again[j] is not None:
                todo.append(e)
    raise StoreConflict(f"entity states kept changing: {len(todo)} still conflicting")
