"""The services one bench run uses: the embedded broker and one Redis, or (hook) a Redis Cluster.

Everything in a run (worker, decode-only agent, forwarder, replay, stage costs) uses
the same broker and the same Redis, so every figure sits beside its peer.

HOOK (Redis Cluster): ``--redis-cluster`` runs the same bench against the 3-master
``embedded.cluster.EmbeddedCluster`` being added on another branch, with
``RISKWIRE_REDIS_CLUSTER`` set for the child processes. Until that module exists the
flag fails with "not available yet". The Redis CPU figure already sums ``INFO cpu``
over every master (bench/redis_cpu.py), so it holds for any number of nodes. The
cluster's constructor and URL attribute below are what that branch is expected to
offer; adjust :func:`_start_cluster` when it lands.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.redis_cpu import cluster_nodes, single_node
from embedded import EmbeddedServices


class NotAvailable(RuntimeError):
    """A requested bench mode this checkout cannot run."""


@dataclass
class BenchServices:
    kafka_bootstrap: str
    redis_url: str
    redis_nodes: list[tuple[str, int]]
    cluster: bool = False
    #: Extra environment for child processes (e.g. RISKWIRE_REDIS_CLUSTER).
    child_env: dict[str, str] = field(default_factory=dict)

    def client(self) -> Any:
        """A synchronous client for the bench's own work (backfill, stage costs)."""
        if self.cluster:
            from redis.cluster import RedisCluster

            return RedisCluster.from_url(self.redis_url, socket_timeout=600)
        return redis.Redis.from_url(self.redis_url, socket_timeout=600)

    def flush(self) -> None:
        """Empty every node (replay wants a fresh feature state)."""
        for host, port in self.redis_nodes:
            node = redis.Redis(host=host, port=port)
            try:
                node.flushall()
            finally:
                node.close()


def cluster_available() -> bool:
    try:
        import embedded.cluster  # noqa: F401
    except ImportError:
        return False
    return True


def start(stack: ExitStack, workdir: Path, *, redis_cluster: bool = False) -> BenchServices:
    """Start the services of one run; they stop when ``stack`` closes."""
    if not redis_cluster:
        services = stack.enter_context(EmbeddedServices(workdir=workdir))
        return BenchServices(services.kafka_bootstrap, services.redis_url, single_node(services.redis_url))
    if not cluster_available():
        raise NotAvailable(
            "--redis-cluster is not available yet: embedded/cluster.py (EmbeddedCluster) "
            "is not on this branch; run without it"
        )
    kafka = stack.enter_context(EmbeddedServices(workdir=workdir, with_redis=False))
    url = _start_cluster(stack, workdir / "cluster")
    return BenchServices(
        kafka.kafka_bootstrap,
        url,
        cluster_nodes(url),
        cluster=True,
        child_env={"RISKWIRE_REDIS_CLUSTER": "true"},
    )


def _start_cluster(stack: ExitStack, workdir: Path) -> str:  # pragma: no cover - HOOK, see above
    from embedded.cluster import EmbeddedCluster  # type: ignore[import-not-found,unused-ignore]

    cluster = stack.enter_context(EmbeddedCluster(workdir=workdir))
    for name in ("redis_url", "url"):
        if isinstance(url := getattr(cluster, name, None), str):
            return url
    raise NotAvailable("embedded.cluster.EmbeddedCluster has no redis_url: update bench/services.py")
