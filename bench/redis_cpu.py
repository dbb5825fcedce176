"""Redis CPU from the servers' own counters (``INFO cpu``), over one or many nodes.

Per event, the CPU Redis spends is shared by every worker (one script thread per
node), so it is measured at the servers, not in a client: ``used_cpu_sys +
used_cpu_user`` of each node, before and after a run, summed over all nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from bench.stats import cpu_delta_s

Snapshot = dict[str, dict[str, Any]]


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The (host, port) of every master of the Redis Cluster at ``url``."""
    from redis.cluster import RedisCluster

    client = RedisCluster.from_url(url)
    try:
        return sorted((n.host, int(n.port)) for n in client.get_primaries())
    finally:
        client.close()


def single_node(url: str) -> list[tuple[str, int]]:
    """The (host, port) of the single Redis at ``url``."""
    kwargs = redis.connection.parse_url(url)
    return [(str(kwargs.get("host", "127.0.0.1")), int(kwargs.get("port", 6379)))]


class RedisCpu:
    """Snapshots of ``INFO cpu`` on a fixed set of nodes."""

    def __init__(self, nodes: Sequence[tuple[str, int]]) -> None:
        if not nodes:
            raise ValueError("no Redis nodes to measure")
        self._clients = {f"{h}:{p}": redis.Redis(host=h, port=p) for h, p in nodes}

    @property
    def nodes(self) -> list[str]:
        return list(self._clients)

    def snapshot(self) -> Snapshot:
        return {name: dict(client.info("cpu")) for name, client in self._clients.items()}

    def since(self, before: Snapshot) -> float:
        """CPU seconds all nodes spent since ``before``."""
        return cpu_delta_s(before, self.snapshot())

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
