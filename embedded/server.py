"""One embedded server process: its command line, log, readiness probe and lifecycle.

Kept generic so Tansu and Redis share the careful parts: refusing a busy fixed port
with a clear message, retrying when an auto-picked port is taken in the race between
picking and binding, and failing with the tail of the server's own log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from embedded.errors import EmbeddedServiceError
from embedded.process import free_port, log_tail, port_accepts, reap, spawn, terminate

#: Variables passed to servers; the rest (e.g. Tansu's LISTENER_URL) could reconfigure them.
_ENV_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
_PORT_ATTEMPTS = 3


def clean_env() -> dict[str, str]:
    """A minimal environment, so stray variables cannot change a server's settings."""
    return {key: os.environ[key] for key in _ENV_KEPT if key in os.environ}


class ServerProcess:
    """A server on a loopback port that is ready only once its probe succeeds."""

    def __init__(
        self,
        name: str,
        port: int,
        command: Callable[[int], list[str]],
        probe: Callable[[int, float], None],
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.log_path: Path | None = None
        self.cwd: Path | None = None
        self.user: int | None = None  # the uid to run as (None: ours)
        self._auto_port = port == 0  # may move to another port until first ready
        self._command = command
        self._probe = probe
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self._popen.pid if self.running else None  # type: ignore[union-attr]

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._popen is not None and self._popen.poll() is None

    @property
    def exited(self) -> bool:
        """Whether the process was started and then exited (a crash, unless stopped)."""
        return self._popen is not None and self._popen.poll() is not None

    def spawn(self) -> None:
        """Start the process without waiting; refuse a port something else listens on."""
        if self.log_path is None:
            raise EmbeddedServiceError(f"{self.name}: no log path set")
        while port_accepts(self.port):
            if not self._auto_port:
                raise EmbeddedServiceError(
                    f"{self.name}: 127.0.0.1:{self.port} is already in use "
                    "(is `riskwire services` already running?)"
                )
            self.port = free_port()
        self._popen = spawn(self._command(self.port), self.log_path, clean_env(), self.cwd, self.user)

    def wait_ready(self, deadline: float) -> None:
        """Block until the probe succeeds; raise with the log tail if the server fails."""
        attempts = 1
        last_error = "no answer yet"
        while True:
            if self._popen is None:
                raise EmbeddedServiceError(f"{self.name} was not started")
            if self._popen.poll() is not None:
                reap(self._popen)
                lost_race = self._auto_port and port_accepts(self.port)  # another took the port
                if not lost_race or attempts >= _PORT_ATTEMPTS:
                    raise self._failure(f"exited with code {self._popen.returncode}")
                attempts += 1
                self.port = free_port()
                self.spawn()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failure(f"not ready in time ({last_error})")
            if port_accepts(self.port):
                try:
                    self._probe(self.port, min(remaining, 5.0))
                except EmbeddedServiceError as exc:
                    last_error = str(exc)
                else:
                    self._auto_port = False  # from now on restarts keep this port
                    return
            time.sleep(0.05)

    def terminate(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Send SIGTERM (or ``sig``) without waiting, so several servers stop in parallel."""
        if self._popen is not None:
            terminate(self._popen, sig)

    def reap(self, timeout: float = 5.0) -> None:
        """Wait for the process to exit, SIGKILL after timeout."""
        if self._popen is not None:
            reap(self._popen, timeout)
            self._popen = None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL; a no-op when not running."""
        self.terminate()
        self.reap(timeout)

    def _failure(self, reason: str) -> EmbeddedServiceError:
        """An error that carries the server's own explanation from its log."""
        if self._popen is not None and self._popen.poll() is None:
            self.stop()
        tail = log_tail(self.log_path) if self.log_path else "(no log)"
        return EmbeddedServiceError(
            f"{self.name} on 127.0.0.1:{self.port} failed: {reason}\n"
            f"--- last lines of {self.log_path} ---\n{tail}"
        )
