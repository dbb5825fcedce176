"""The Redis online feature store: features computed in the worker, state kept in Redis.

Entity states are read, updated by the feature kernel (``features/kernel.py``) over the
whole micro-batch, and written back with one compare-and-set per entity; every command
touches one key, so one Redis and Redis Cluster run the same code. The round trips are
in ``store/feature_protocol.py``; the key layout in docs/redis-keys.md ("Online features").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import NoScriptError

from contracts.identity import EntityNames
from contracts.records import Label, Transaction
from features.aggregates import Aggregates, format_aggregates
from features.batch import hash48
from store.feature_labels import label_steps
from store.feature_protocol import Command, Config, Steps, peek_steps, record_steps
from store.layout import PREFIX as LAYOUT_PREFIX
from store.layout import FeatureKeys
from store.scripts import script
from store.wire import execute_async, execute_cluster_async, execute_cluster_sync, execute_sync

__all__ = [
    "LATE_EVENTS_KEY", "PREFIX", "FeatureStore", "OnlineFeatureStore", "Position",
    "SyncOnlineFeatureStore", "kafka_source",
]  # fmt: skip

PREFIX = LAYOUT_PREFIX
SCRIPTS = {name: script(name) for name in ("label", "cas")}
SHAS = {name: hashlib.sha1(text.encode()).hexdigest() for name, text in SCRIPTS.items()}
LATE_EVENTS_KEY = FeatureKeys(PREFIX).late


class FeatureStore(Protocol):
    """What the scoring pipeline and label learning need of a feature store."""

    async def record_and_fetch(
        self, transactions: Sequence[Transaction], positions: Sequence[Position] | None = None
    ) -> Aggregates: ...

    async def peek(self, transactions: Sequence[Transaction]) -> Aggregates: ...

    async def record_labels(self, labels: Sequence[Label]) -> int: ...


#: A Kafka position as the store takes it: (source id of topic and partition, offset).
Position = tuple[int, int]


def kafka_source(topic: str, partition: int, offset: int) -> Position:
    """The store's position of a consumed message (the watermarks are kept per partition)."""
    return hash48(f"{topic}:{partition}"), offset


def _config(dedupe_ttl_s: int, grace_ms: int, names: EntityNames | None) -> Config:
    cfg = Config(FeatureKeys(PREFIX), grace_ms, dedupe_ttl_s * 1000, SHAS["label"], SHAS["cas"])
    return cfg if names is None else replace(cfg, names=names)


#: Probed once per store: does the server compare-and-set natively (``SET … IFEQ``)?
_PROBE: Command = ("SET", FeatureKeys(PREFIX).since + ":cas-probe", "1", "IFEQ", "1", "PX", 1000)


def _native(reply: object) -> bool:
    return not isinstance(reply, BaseException)


def _is_cluster(client: Any) -> bool:
    return isinstance(client, redis.cluster.RedisCluster | aioredis.cluster.RedisCluster)


def _fold_gets(cmds: list[Command]) -> tuple[list[Command], list[int]]:
    """On one node, every GET of a step becomes one MGET (the last command): fewer commands
    to pack and parse. Returns the commands and the positions of the folded GETs."""
    gets = [i for i, c in enumerate(cmds) if c[0] == "GET"]
    if len(gets) < 2:
        return cmds, []
    rest = [c for c in cmds if c[0] != "GET"]
    return [*rest, ("MGET", *(cmds[i][1] for i in gets))], gets


def _unfold(results: list[Any], n: int, gets: list[int]) -> list[Any]:
    if not gets:
        return results
    values = results[-1]
    if isinstance(values, BaseException):
        return [values] * n
    out: list[Any] = [None] * n
    taken = set(gets)
    rest = iter(results[:-1])
    for i in range(n):
        if i not in taken:
            out[i] = next(rest)
    for i, v in zip(gets, values, strict=True):
        out[i] = v
    return out


def _errors(results: Sequence[Any]) -> tuple[list[int], BaseException | None]:
    missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
    other = next(
        (r for r in results if isinstance(r, BaseException) and not isinstance(r, NoScriptError)), None
    )
    return missing, other


class OnlineFeatureStore:
    """Async store used by the worker, replay and the API (one client or a cluster)."""

    def __init__(
        self, client: Any, *, dedupe_ttl_s: int, grace_ms: int, names: EntityNames | None = None
    ) -> None:
        self._client: aioredis.Redis = client
        self._cluster = _is_cluster(client)
        self._cfg = _config(dedupe_ttl_s, grace_ms, names)
        self._probed: bool | None = None

    async def record_and_fetch(
        self, transactions: Sequence[Transaction], positions: Sequence[Position] | None = None
    ) -> Aggregates:
        """Record the batch and return its aggregates (first results for redeliveries)."""
        rows: Aggregates = await self._drive(record_steps(self._cfg, transactions, positions))
        return rows

    async def peek(self, transactions: Sequence[Transaction]) -> Aggregates:
        """The aggregates these events would get now, recording nothing."""
        rows: Aggregates = await self._drive(peek_steps(self._cfg, transactions))
        return rows

    async def record_labels(self, labels: Sequence[Label]) -> int:
        """Apply labels; returns how many changed the state."""
        changed: int = await self._drive(label_steps(self._cfg, labels))
        return changed

    async def _drive(self, steps: Steps) -> Any:
        if self._probed is None:
            self._probed = _native((await self._pipeline([_PROBE]))[0])
            self._cfg = replace(self._cfg, native_cas=self._probed)
        try:
            cmds = next(steps)
            while True:
                cmds = steps.send(await self._execute(cmds))
        except StopIteration as stop:
            return stop.value

    async def _execute(self, cmds: list[Command]) -> list[Any]:
        results = await self._pipeline(cmds)
        missing, other = _errors(results)
        if missing:  # a restarted server forgot the scripts
            for text in SCRIPTS.values():
                await self._client.script_load(text)
            again = await self._pipeline([cmds[i] for i in missing])
            for i, r in zip(missing, again, strict=True):
                results[i] = r
            missing, other = _errors(results)
        if other is not None:
            raise other
        return results

    async def _pipeline(self, cmds: list[Command]) -> list[Any]:
        if self._cluster:  # one batch per node that owns the keys
            return await execute_cluster_async(self._client, cmds)
        sent, gets = _fold_gets(cmds)
        return _unfold(await execute_async(self._client, sent), len(cmds), gets)


class SyncOnlineFeatureStore:
    """The same store for synchronous callers (backfill, tests, benchmarks)."""

    def __init__(
        self, client: Any, *, dedupe_ttl_s: int, grace_ms: int, names: EntityNames | None = None
    ) -> None:
        self._client: redis.Redis = client
        self._cluster = _is_cluster(client)
        self._cfg = _config(dedupe_ttl_s, grace_ms, names)
        self._probed: bool | None = None

    def record_and_fetch(
        self, transactions: Sequence[Transaction], positions: Sequence[Position] | None = None
    ) -> Aggregates:
        """Record the batch and return its aggregates (first results for redeliveries)."""
        rows: Aggregates = self._drive(record_steps(self._cfg, transactions, positions))
        return rows

    def raw(self, transactions: Sequence[Transaction], *, record: bool = True) -> list[str]:
        """The raw strings themselves (for comparisons with the offline engine)."""
        rows = self.record_and_fetch(transactions) if record else self.peek(transactions)
        return format_aggregates(rows)

    def peek(self, transactions: Sequence[Transaction]) -> Aggregates:
        """The aggregates these events would get now, recording nothing."""
        rows: Aggregates = self._drive(peek_steps(self._cfg, transactions))
        return rows

    def record_labels(self, labels: Sequence[Label]) -> int:
        """Apply labels; returns how many changed the state."""
        changed: int = self._drive(label_steps(self._cfg, labels))
        return changed

    def _drive(self, steps: Steps) -> Any:
        if self._probed is None:
            self._probed = _native(self._pipeline([_PROBE])[0])
            self._cfg = replace(self._cfg, native_cas=self._probed)
        try:
            cmds = next(steps)
            while True:
                cmds = steps.send(self._execute(cmds))
        except StopIteration as stop:
            return stop.value

    def _execute(self, cmds: list[Command]) -> list[Any]:
        results = self._pipeline(cmds)
        missing, other = _errors(results)
        if missing:
            for text in SCRIPTS.values():
                self._client.script_load(text)
            again = self._pipeline([cmds[i] for i in missing])
            for i, r in zip(missing, again, strict=True):
                results[i] = r
            missing, other = _errors(results)
        if other is not None:
            raise other
        return results

    def _pipeline(self, cmds: list[Command]) -> list[Any]:
        if self._cluster:
            return execute_cluster_sync(self._client, cmds)
        sent, gets = _fold_gets(cmds)
        return _unfold(execute_sync(self._client, sent), len(cmds), gets)
