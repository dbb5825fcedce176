"""The embedded Kafka-protocol broker (Tansu) and Redis that the CLI, demo and tests run.

Both bind 127.0.0.1 only and keep no data on disk: they are for development and
tests, where a private instance that a test may kill and restart is what we want.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from embedded.binaries import find_redis_server, find_tansu
from embedded.errors import EmbeddedServiceError
from embedded.probes import ping_kafka, ping_redis
from embedded.process import LOOPBACK
from embedded.server import ServerProcess


def _tansu_command(port: int) -> list[str]:
    """Tansu with in-memory storage, listening and advertising on loopback."""
    url = f"tcp://{LOOPBACK}:{port}"
    return [
        *(str(find_tansu()), "broker", "--storage-engine", "memory://tansu/"),
        *("--listener-url", url, "--advertised-listener-url", url),
    ]


def _kafka_probe(port: int, timeout: float) -> None:
    ping_kafka(f"{LOOPBACK}:{port}", timeout)


@dataclass(frozen=True)
class RedisTls:
    """PEM files for a Redis that speaks TLS only: its certificate and key, and the CA
    clients verify it with (clients need no certificate of their own)."""

    ca: Path
    cert: Path
    key: Path


class EmbeddedServices:
    """Tansu and Redis on loopback ports, started together and stopped together.

    Port 0 picks a free port (fixed at construction, moved only if another process
    takes it before the server binds). Logs go to ``log_dir`` or else ``workdir``; a
    ``workdir`` left as None is a temporary directory removed by :meth:`stop` or at exit.
    ``with_kafka`` / ``with_redis`` let a caller embed only the service it lacks.
    """

    def __init__(
        self,
        kafka_port: int = 0,
        redis_port: int = 0,
        workdir: Path | None = None,
        log_dir: Path | None = None,
        *,
        with_kafka: bool = True,
        with_redis: bool = True,
        redis_persistent: bool = False,
        redis_password: str | None = None,
        redis_tls: RedisTls | None = None,
    ) -> None:
        self._workdir = workdir.resolve() if workdir is not None else None
        self._log_dir = log_dir.resolve() if log_dir is not None else None
        # Fault tests restart Redis and expect its data back, as AOF gives in production.
        self._redis_persistent = redis_persistent
        # AUTH (requirepass, in a 0600 config file: not on the command line) and TLS only.
        self._redis_password = redis_password
        self._redis_tls = redis_tls
        self._remove_temp_dir: Callable[[], None] | None = None
        self._started = False
        self._kafka = ServerProcess("Kafka (Tansu)", kafka_port, _tansu_command, _kafka_probe)
        self._redis = ServerProcess("Redis", redis_port, self._redis_cmd, self._redis_probe)
        wanted = ((self._kafka, with_kafka), (self._redis, with_redis))
        self._servers = [server for server, on in wanted if on]

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap address, ``127.0.0.1:PORT``."""
        self._require(self._kafka)
        return f"{LOOPBACK}:{self._kafka.port}"

    @property
    def redis_url(self) -> str:
        """The Redis URL, ``redis://127.0.0.1:PORT/0``.

        With a password it is in the URL (print it through ``store.safe_url.redacted``);
        with TLS the scheme is ``rediss`` and the URL names the CA to verify the server with.
        """
        self._require(self._redis)
        return self._url_for(self._redis.port)

    def _url_for(self, port: int) -> str:
        auth = f":{quote(self._redis_password, safe='')}@" if self._redis_password else ""
        if self._redis_tls is None:
            return f"redis://{auth}{LOOPBACK}:{port}/0"
        return f"rediss://{auth}{LOOPBACK}:{port}/0?ssl_ca_certs={quote(str(self._redis_tls.ca))}"

    @property
    def kafka_log(self) -> Path | None:
        """Tansu's log file, once started."""
        return self._kafka.log_path

    @property
    def redis_log(self) -> Path | None:
        """Redis's log file, once started."""
        return self._redis.log_path

    @property
    def pids(self) -> dict[str, int]:
        """Pids of the running servers by name ("kafka", "redis"), for orphan checks."""
        found = {"kafka": self._kafka.pid, "redis": self._redis.pid}
        return {name: pid for name, pid in found.items() if pid is not None}

    def exited(self) -> list[str]:
        """Names of started servers whose process has died since (crash detection)."""
        return [s.name for s in self._servers if s.exited]

    def start(self, timeout: float = 30.0) -> Self:
        """Start the servers and wait until each answers; on failure stop all and raise."""
        if self._started:
            return self
        workdir = self._workdir
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="riskwire-services-"))
            self._remove_temp_dir = partial(shutil.rmtree, workdir, ignore_errors=True)
            atexit.register(self._remove_temp_dir)  # also when stop() is never called
        log_dir = self._log_dir or workdir
        self._redis.cwd = workdir / "redis"
        self._redis.cwd.mkdir(parents=True, exist_ok=True)
        self._kafka.log_path = log_dir / "kafka.log"
        self._redis.log_path = log_dir / "redis.log"
        self._started = True
        deadline = time.monotonic() + timeout
        try:
            for server in self._servers:
                server.spawn()
            for server in self._servers:
                server.wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM all servers, wait, SIGKILL stragglers; safe to call repeatedly."""
        for server in self._servers:
            server.terminate()
        for server in self._servers:
            server.reap()
        if self._remove_temp_dir is not None:
            atexit.unregister(self._remove_temp_dir)
            self._remove_temp_dir()
            self._remove_temp_dir = None
        self._started = False

    def stop_redis(self) -> None:
        """Stop Redis only, so a test can watch the pipeline lose its store."""
        self._require(self._redis)
        self._redis.stop()

    def start_redis(self, timeout: float = 30.0) -> None:
        """Start Redis again on the same port (empty: it keeps no data) and wait for PING."""
        self._require(self._redis)
        if not self._started:
            raise EmbeddedServiceError("start() the services before restarting Redis")
        if self._redis.running:
            return
        self._redis.spawn()
        self._redis.wait_ready(time.monotonic() + timeout)

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
        parts = [f"{s.name}@{LOOPBACK}:{s.port}" for s in self._servers]
        return f"EmbeddedServices({', '.join(parts)}, started={self._started})"

    def _require(self, server: ServerProcess) -> None:
        """Fail clearly when asked about a service this instance does not embed."""
        if server not in self._servers:
            raise EmbeddedServiceError(f"{server.name} is not embedded by this instance")

    def _redis_probe(self, port: int, timeout: float) -> None:
        ping_redis(self._url_for(port), timeout)

    def _redis_config_file(self) -> list[str]:
        """The config file argument holding ``requirepass`` (0600, so not visible in ``ps``)."""
        if self._redis_password is None:
            return []
        assert self._redis.cwd is not None
        conf = self._redis.cwd / "security.conf"
        conf.touch(mode=0o600)
        escaped = self._redis_password.replace("\\", "\\\\").replace('"', '\\"')
        conf.write_text(f'requirepass "{escaped}"\n')
        return [str(conf)]

    def _redis_listen(self, port: int) -> list[str]:
        """Plain TCP on ``port``, or TLS only (the plain port closed)."""
        tls = self._redis_tls
        if tls is None:
            return ["--port", str(port)]
        return [
            *("--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"),
            *("--tls-cert-file", str(tls.cert), "--tls-key-file", str(tls.key)),
            *("--tls-ca-cert-file", str(tls.ca)),
        ]

    def _redis_cmd(self, port: int) -> list[str]:
        return [
            str(find_redis_server(tls=self._redis_tls is not None)),
            *self._redis_config_file(),  # a config file must come first
            *("--bind", LOOPBACK, "--daemonize", "no"),
            *self._redis_listen(port),
            *("--save", "", "--logfile", ""),
            *(
                ("--appendonly", "yes", "--appendfsync", "always")
                if self._redis_persistent
                else ("--appendonly", "no")
            ),
            *("--dir", str(self._redis.cwd)),
        ]
