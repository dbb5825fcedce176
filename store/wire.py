"""A batch of commands on one Redis connection, packed and parsed by hiredis.

The feature store sends thousands of one-key commands per micro-batch. redis-py's
pipeline costs several microseconds of Python per command (packing, a timeout context
per reply); here the whole batch is packed with ``hiredis.pack_command``, written at once
on a connection borrowed from the client's own pool (so AUTH, TLS and the database are
the client's) and the replies are parsed by one ``hiredis.Reader``. On a cluster the
commands are grouped by the node that owns their key's slot and each group goes the same
way to its node (concurrently, with the async client); a command the node refuses
because the slot moved (``MOVED``, ``ASK``, …) is sent again through redis-py's cluster
pipeline, which follows the redirection and refreshes the slot map.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

__all__ = [
    "execute", "execute_async", "execute_cluster_async", "execute_cluster_sync", "execute_sync", "pack",
]  # fmt: skip

_READ = 1 << 16


def pack(cmds: Sequence[tuple[object, ...]]) -> bytes:
    """The commands as one RESP payload."""
    return b"".join(hiredis.pack_command(c) for c in cmds)  # type: ignore[arg-type]


def _error(reply: hiredis.ReplyError) -> ResponseError:
    text = str(reply)
    return NoScriptError(text) if text.startswith("NOSCRIPT") else ResponseError(text)


def _collect(reader: hiredis.Reader, out: list[Any], n: int) -> None:
    while len(out) < n:
        reply = reader.gets()
        if reply is False:
            return
        out.append(_error(reply) if isinstance(reply, hiredis.ReplyError) else reply)


async def _exchange(conn: Any, cmds: Sequence[tuple[object, ...]]) -> list[Any]:
    timeout = conn.socket_timeout
    async with asyncio.timeout(None if timeout is None else timeout * 4):
        conn._writer.write(pack(cmds))
        await conn._writer.drain()
        reader = hiredis.Reader()
        out: list[Any] = []
        while True:
            _collect(reader, out, len(cmds))
            if len(out) == len(cmds):
                return out
            data = await conn._reader.read(_READ)
            if not data:
                raise RedisConnectionError("connection closed by the server")
            reader.feed(data)


async def execute_async(client: Any, cmds: Sequence[tuple[object, ...]]) -> list[Any]:
    """Run ``cmds`` on a pooled connection of an asyncio client; errors are returned in place."""
    pool = client.connection_pool
    conn = await pool.get_connection()
    done = False
    try:
        out = await _exchange(conn, cmds)
        done = True
        return out
    finally:
        if not done:  # a half-read connection must never serve another command
            await conn.disconnect()
        await pool.release(conn)


_REDIRECTED = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN")


def _key(cmd: tuple[object, ...]) -> str:
    return str(cmd[3] if cmd[0] == "EVALSHA" else cmd[1])


def _by_node(client: Any, cmds: Sequence[tuple[object, ...]]) -> dict[str, tuple[Any, list[int]]]:
    groups: dict[str, tuple[Any, list[int]]] = {}
    for i, cmd in enumerate(cmds):
        node = client.get_node_from_key(_key(cmd))
        groups.setdefault(node.name, (node, []))[1].append(i)
    return groups


def _redirected(out: list[Any]) -> list[int]:
    return [i for i, r in enumerate(out) if isinstance(r, ResponseError) and str(r).startswith(_REDIRECTED)]


async def execute_cluster_async(client: Any, cmds: Sequence[tuple[object, ...]]) -> list[Any]:
    """Run one-key commands on an asyncio ``RedisCluster``, one batch per node."""

    async def on(node: Any, idx: list[int]) -> list[Any]:
        conn = node.acquire_connection()
        done = False
        try:
            if not conn.is_connected:
                await conn.connect()
            got = await _exchange(conn, [cmds[i] for i in idx])
            done = True
            return got
        finally:
            if not done:
                await conn.disconnect()
            node.release(conn)

    await client.initialize()  # the slot map (a no-op once known)
    groups = _by_node(client, cmds)
    out: list[Any] = [None] * len(cmds)
    replies = await asyncio.gather(*(on(node, idx) for node, idx in groups.values()))
    for (_, idx), got in zip(groups.values(), replies, strict=True):
        for i, r in zip(idx, got, strict=True):
            out[i] = r
    if again := _redirected(out):
        pipe = client.pipeline()
        for i in again:
            pipe.execute_command(*cmds[i])
        for i, r in zip(again, await pipe.execute(raise_on_error=False), strict=True):
            out[i] = r
    return out


def execute_cluster_sync(client: Any, cmds: Sequence[tuple[object, ...]]) -> list[Any]:
    """The same on a synchronous ``RedisCluster`` (the nodes one after the other)."""
    out: list[Any] = [None] * len(cmds)
    for node, idx in _by_node(client, cmds).values():
        for i, r in zip(idx, execute_sync(node.redis_connection, [cmds[i] for i in idx]), strict=True):
            out[i] = r
    if again := _redirected(out):
        pipe = client.pipeline()
        for i in again:
            pipe.execute_command(*cmds[i])
        for i, r in zip(again, pipe.execute(raise_on_error=False), strict=True):
            out[i] = r
    return out


def execute_sync(client: Any, cmds: Sequence[tuple[object, ...]]) -> list[Any]:
    """The same on a synchronous client."""
    pool = client.connection_pool
    conn = pool.get_connection()
    done = False
    try:
        sock = conn._sock
        sock.sendall(pack(cmds))
        reader = hiredis.Reader()
        out: list[Any] = []
        while True:
            _collect(reader, out, len(cmds))
            if len(out) == len(cmds):
                break
            data = sock.recv(_READ)
            if not data:
                raise RedisConnectionError("connection closed by the server")
            reader.feed(data)
        done = True
        return out
    except OSError as exc:
        raise RedisConnectionError(str(exc)) from exc
    finally:
        if not done:
            conn.disconnect()
        pool.release(conn)


async def execute(client: Any, cmds: Sequence[tuple[object, ...]]) -> list[Any]:
    """One-key commands on an asyncio client or cluster client; errors raised, not returned."""
    from redis.asyncio.cluster import RedisCluster

    run = execute_cluster_async if isinstance(client, RedisCluster) else execute_async
    out = await run(client, cmds)
    for reply in out:
        if isinstance(reply, BaseException):
            raise reply
    return out
