"""Child processes of the bench (the worker, the decode-only agent, the forwarder, the API).

Each runs in its own process, as in production, so that the bench's publisher and
watchers do not share its interpreter; its output goes to a log file in the bench's
temporary directory, and a start waits for a line that says it is ready.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from contracts.settings import Settings
from embedded import free_port

WORKER_READY = b"Worker]: Ready"
#: The checkout, so children find ``bench`` (not an installed package) from any directory.
ROOT = Path(__file__).resolve().parent.parent


def service_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that points a riskwire process at the bench's services."""
    env = dict(os.environ)
    env.update(
        RISKWIRE_KAFKA_BOOTSTRAP=settings.bootstrap,
        RISKWIRE_REDIS_URL=settings.redis,
        RISKWIRE_MODEL_DIR=str(settings.model_dir),
        RISKWIRE_VAR_DIR=str(settings.var_dir),
        RISKWIRE_WORKER_WEB_PORT=str(free_port()),
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


class Child:
    """A child process started with :meth:`start`, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: bytes, timeout: float = 90.0) -> Self:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while ready not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"{self.name} did not start (log {self.log}):\n{tail}")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def worker(settings: Settings, log: Path, extra_env: Mapping[str, str] | None = None) -> Child:
    """`riskwire worker`, the real one."""
    return Child("worker", [sys.executable, "-m", "cli", "worker"], service_env(settings, extra_env), log)


def decode_only(settings: Settings, out_topic: str, log: Path) -> Child:
    """The decode-only agent of bench/decode_only.py."""
    argv = [sys.executable, "-m", "bench.decode_only", "--out-topic", out_topic]
    return Child("decode-only agent", argv, service_env(settings), log)


def forwarder(settings: Settings, source: str, dest: str, log: Path) -> Child:
    """The plain consume-and-forward of bench/forward.py."""
    argv = [
        *(sys.executable, "-m", "bench.forward", settings.bootstrap),
        *(source, dest, str(settings.topic_partitions)),
    ]
    return Child("forwarder", argv, service_env(settings), log)


def create_key(settings: Settings, role: str, name: str, extra_env: Mapping[str, str] | None = None) -> str:
    """A new API key's secret, made by `riskwire keys create` in a child process: the bench
    drives the CLI as a program, as it does the worker and the API, and imports none of it."""
    argv = [sys.executable, "-m", "cli", "keys", "create", "--role", role, "--name", name]
    done = subprocess.run(argv, env=service_env(settings, extra_env), capture_output=True, timeout=120)
    if done.returncode != 0:
        tail = done.stderr.decode()[-2000:]
        raise RuntimeError(f"riskwire keys create failed ({done.returncode}):\n{tail}")
    return done.stdout.decode().strip().splitlines()[-1]


def run_timed(argv: Sequence[str], env: Mapping[str, str], log: Path, timeout: float = 1800.0) -> float:
    """Run a command to completion; its wall time in seconds. Raises with its log on failure."""
    started = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} … failed ({done.returncode}):\n{log.read_text()[-3000:]}")
    return elapsed
