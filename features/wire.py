"""A batch of commands on one Redis connection, packed and parsed by hiredis.

The feature store sends thousands of one-key commands per micro-batch. redis-py's
pipeline costs several microseconds of Python per command (packing, a timeout context
per reply); here the whole batch is packed with ``hiredis.pack_command``, written at once
on a connection borrowed from the client's own pool (so AUTH, TLS and the database are
the client's) and the replies are parsed by one ``hiredis.Reader``. Used on a single
node; a cluster client goes through redis-py's cluster pipeline, which routes by slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

__all__ = ["execute_async", "execute_sync", "pack"]

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


async def execute_async(client: Any, cmds: Sequence[tuple[object, ...]]) -> list[Any]:
    """Run ``cmds`` on a pooled connection of an asyncio client; errors are returned in place."""
    pool = client.connection_pool
    conn = await pool.get_connection()
    done = False
    try:
        timeout = conn.socket_timeout
        async with asyncio.timeout(None if timeout is None else timeout * 4):
            conn._writer.write(pack(cmds))
            await conn._writer.drain()
            reader = hiredis.Reader()
            out: list[Any] = []
            while True:
                _collect(reader, out, len(cmds))
                if len(out) == len(cmds):
                    break
                data = await conn._reader.read(_READ)
                if not data:
                    raise RedisConnectionError("connection closed by the server")
                reader.feed(data)
        done = True
        return out
    finally:
        if not done:  # a half-read connection must never serve another command
            await conn.disconnect()
        await pool.release(conn)


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
