"""Redis connections for every riskwire store: the one place that creates Redis clients,
a single-node client or a Redis Cluster client as ``RISKWIRE_REDIS_CLUSTER`` says, so the
worker, the API and the command line all honour the setting. Key names keep the keys of
each atomic change (one Lua call or ``MULTI``) in one hash slot; the layout is in
``docs/redis-keys.md``.
"""

from store.connect import AsyncRedis, SyncRedis, async_client, get_many, sync_client
from store.keys import API, ONLINE, RULES, tagged

__all__ = [
    "API",
    "ONLINE",
    "RULES",
    "AsyncRedis",
    "SyncRedis",
    "async_client",
    "get_many",
    "sync_client",
    "tagged",
]
