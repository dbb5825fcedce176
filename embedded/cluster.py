"""A Redis Cluster of three masters on loopback, for tests and benchmarks.

Each node is a ``valkey-server --cluster-enabled yes`` in its own directory (no
persistence); ``valkey-cli --cluster create`` assigns the 16,384 slots, and the
cluster is ready once every node reports ``cluster_state:ok``. Nodes die with
the Python process that started them, like the other embedded services.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

from embedded.binaries import find_redis_server, find_valkey_cli
from embedded.errors import EmbeddedServiceError
from embedded.probes import ping_redis
from embedded.process import LOOPBACK, free_port
from embedded.server import ServerProcess, clean_env


def _probe(port: int, timeout: float) -> None:
    ping_redis(f"redis://{LOOPBACK}:{port}/0", timeout)


class EmbeddedCluster:
    """``masters`` cluster nodes on free loopback ports (no replicas), started together.

    ``url`` names the first node (a cluster client discovers the others); ``nodes``
    lists every node's ``host:port``. ``flushall()`` empties every node between tests.
    A ``workdir`` left as None is a temporary directory removed by :meth:`stop`.
    """

    def __init__(self, masters: int = 3, workdir: Path | None = None) -> None:
        if masters < 3:
            raise ValueError("a Redis Cluster needs at least 3 masters")
        self._workdir = workdir.resolve() if workdir is not None else None
        self._remove_temp_dir: partial[None] | None = None
        self._servers = [
            ServerProcess(f"Redis cluster node {i + 1}", 0, partial(self._command, i), _probe)
            for i in range(masters)
        ]
        self._started = False

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self._servers]

    @property
    def nodes(self) -> list[str]:
        """Every node as ``127.0.0.1:PORT``."""
        return [f"{LOOPBACK}:{port}" for port in self.ports]

    @property
    def url(self) -> str:
        """The first node's URL, ``redis://127.0.0.1:PORT/0`` (any node will do)."""
        return f"redis://{LOOPBACK}:{self.ports[0]}/0"

    @property
    def pids(self) -> list[int]:
        return [pid for server in self._servers if (pid := server.pid) is not None]

    def _node_dir(self, index: int) -> Path:
        assert self._workdir is not None
        return self._workdir / f"node{index + 1}"

    def _command(self, index: int, port: int) -> list[str]:
        return [
            str(find_redis_server()),
            *("--bind", LOOPBACK, "--port", str(port), "--daemonize", "no"),
            *("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"),
            # An explicit bus port: the default (port + 10000) fails above port 55535.
            *("--cluster-port", str(free_port())),
            *("--cluster-node-timeout", "5000"),
            *("--save", "", "--appendonly", "no", "--logfile", ""),
            *("--dir", str(self._node_dir(index))),
        ]

    def start(self, timeout: float = 60.0) -> Self:
        """Start the nodes, create the cluster and wait until every node says it is ok."""
        if self._started:
            return self
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="riskwire-cluster-"))
            self._remove_temp_dir = partial(shutil.rmtree, self._workdir, ignore_errors=True)
            atexit.register(self._remove_temp_dir)
        self._started = True
        deadline = time.monotonic() + timeout
        try:
            for i, server in enumerate(self._servers):
                server.cwd = self._node_dir(i)
                server.cwd.mkdir(parents=True, exist_ok=True)
                server.log_path = self._workdir / f"node{i + 1}.log"
                server.spawn()
            for server in self._servers:
                server.wait_ready(deadline)
            self._create(deadline)
            self._wait_ok(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _cli(self, port: int, *args: str, timeout: float = 30.0) -> str:
        argv = [str(find_valkey_cli()), "-h", LOOPBACK, "-p", str(port), *args]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=clean_env(), check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise EmbeddedServiceError(f"valkey-cli failed: {exc}") from exc
        if done.returncode != 0:
            raise EmbeddedServiceError(f"valkey-cli {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def _create(self, deadline: float) -> None:
        self._cli(
            self.ports[0],
            *("--cluster", "create", *self.nodes),
            *("--cluster-replicas", "0", "--cluster-yes"),
            timeout=max(1.0, deadline - time.monotonic()),
        )

    def _wait_ok(self, deadline: float) -> None:
        pending = list(self.ports)
        while pending:
            pending = [p for p in pending if "cluster_state:ok" not in self._cli(p, "CLUSTER", "INFO")]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(f"Redis cluster not ok in time (nodes {pending})")
            time.sleep(0.1)

    def flushall(self, *, scripts: bool = False) -> None:
        """Empty every node (between tests); with ``scripts``, unload their Lua scripts too
        (as a restarted node would), so callers must load them again."""
        import redis

        for port in self.ports:
            client = redis.Redis(host=LOOPBACK, port=port)
            try:
                client.flushall()
                if scripts:
                    client.script_flush()
            finally:
                client.close()

    def stop(self) -> None:
        """SIGTERM every node, wait, SIGKILL stragglers; safe to call repeatedly."""
        for server in self._servers:
            server.terminate()
        for server in self._servers:
            server.reap()
        if self._remove_temp_dir is not None:
            atexit.unregister(self._remove_temp_dir)
            self._remove_temp_dir()
            self._remove_temp_dir = None
            self._workdir = None
        self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedCluster({', '.join(self.nodes)}, started={self._started})"
