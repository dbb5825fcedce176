"""Create Redis clients: single node, or Redis Cluster when the settings say so.

With ``cluster=True`` the URL names any node of the cluster; the client discovers the
others and routes each command to the node that owns its key's hash slot (cluster
pipelines are split by node, one request per node). Redis Cluster has only db 0.

>>> type(async_client("redis://127.0.0.1:1/0", cluster=False)).__name__
'Redis'
>>> type(sync_client(Settings(redis_url="redis://127.0.0.1:1/0"))).__name__
'Redis'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.cluster

from contracts.settings import Settings

#: What the stores accept: a single-node client or a cluster client.
AsyncRedis: TypeAlias = aioredis.Redis | aiocluster.RedisCluster
SyncRedis: TypeAlias = redis.Redis | redis.cluster.RedisCluster


def _target(settings_or_url: Settings | str, cluster: bool | None) -> tuple[str, bool]:
    if isinstance(settings_or_url, Settings):
        url = settings_or_url.redis
        return url, settings_or_url.redis_cluster if cluster is None else cluster
    return settings_or_url, bool(cluster)


def async_client(settings_or_url: Settings | str, *, cluster: bool | None = None, **kw: Any) -> AsyncRedis:
    """A ``redis.asyncio`` client for the settings' Redis (or a URL).

    ``cluster`` defaults to ``settings.redis_cluster`` (``False`` for a bare URL);
    ``kw`` goes to the client (timeouts, ``decode_responses``...). The client is not
    connected yet: nothing is sent before the first command.
    """
    url, is_cluster = _target(settings_or_url, cluster)
    if is_cluster:
        return aiocluster.RedisCluster.from_url(url, **kw)
    return aioredis.Redis.from_url(url, **kw)


def sync_client(settings_or_url: Settings | str, *, cluster: bool | None = None, **kw: Any) -> SyncRedis:
    """The blocking twin of :func:`async_client`."""
    url, is_cluster = _target(settings_or_url, cluster)
    if is_cluster:
        return redis.cluster.RedisCluster.from_url(url, **kw)
    return redis.Redis.from_url(url, **kw)


async def get_many(client: AsyncRedis, keys: Sequence[str]) -> list[Any]:
    """``MGET`` of keys that may live in different slots: one request per node on a cluster."""
    if not keys:
        return []
    if isinstance(client, aiocluster.RedisCluster):
        return await client.mget_nonatomic(list(keys))
    return await client.mget(list(keys))
