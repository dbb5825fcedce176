"""The store wing: every Redis layout riskwire keeps, and the one place that creates clients.

``layout`` names every key (``docs/redis-keys.md``); one module per store owns its keys
and its Lua (``lua/``): ``decisions`` (records, their indexes and the review queues),
``reviews`` (review state changes), ``api_keys`` (keys and rate limits, with
``key_hash``), ``audit``, ``rules``, ``online_checkpoint`` (the online learner), and
``feature_state`` with ``feature_protocol``, ``feature_writes`` and ``feature_labels``
(the entity states behind the feature kernel). ``connect`` creates a single-node or a
Redis Cluster client as ``RISKWIRE_REDIS_CLUSTER`` says, so the worker, the API and the
command line all honour the setting; ``wire`` packs batches of one-key commands with
hiredis; ``at_rest`` seals records.
"""

from store.connect import AsyncRedis, SyncRedis, async_client, get_many, sync_client
from store.layout import API, ONLINE, RULES, tagged

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
