"""`riskwire worker` as a child process that tests can start, kill -9 and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from contracts.settings import Settings
from embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


def settings_env(settings: Settings, web_port: int) -> dict[str, str]:
    env = dict(os.environ)
    fields = {
        "KAFKA_BOOTSTRAP": settings.bootstrap,
        "REDIS_URL": settings.redis,
        "MODEL_DIR": settings.model_dir,
        "VAR_DIR": settings.var_dir,
        "APP_ID": settings.app_id,
        "TOPIC_TRANSACTIONS": settings.topic_transactions,
        "TOPIC_SCORES": settings.topic_scores,
        "TOPIC_ALERTS": settings.topic_alerts,
        "TOPIC_DLQ": settings.topic_dlq,
        "TOPIC_LABELS": settings.topic_labels,
        "TOPIC_PARTITIONS": settings.topic_partitions,
        "MAX_MESSAGE_BYTES": settings.max_message_bytes,
        "ELEVATED_THRESHOLD": settings.elevated_threshold,
        "HIGHEST_THRESHOLD": settings.highest_threshold,
        "CONSUMER_SESSION_TIMEOUT_S": settings.consumer_session_timeout_s,
        "WORKER_STALL_AFTER_S": settings.worker_stall_after_s,
        "REDIS_TIMEOUT_S": settings.redis_timeout_s,
        "WORKER_WEB_PORT": web_port,
    }
    env.update({f"RISKWIRE_{k}": str(v) for k, v in fields.items()})
    return env


def isolated_settings(
    base: Settings, tmp: Path, db: int, partitions: int = 2, redis_url: str | None = None
) -> Settings:
    """Own topics, consumer group and Redis db, so a test can kill and restart freely."""
    run = uuid.uuid4().hex[:6]
    url = redis_url or base.redis.rsplit("/", 1)[0]
    return base.model_copy(
        update={
            "app_id": f"riskwire-{run}",
            "topic_transactions": f"{run}-transactions",
            "topic_scores": f"{run}-scores",
            "topic_alerts": f"{run}-alerts",
            "topic_dlq": f"{run}-dlq",
            "topic_labels": f"{run}-labels",
            "topic_partitions": partitions,
            "redis_url": f"{url}/{db}",
            "var_dir": tmp,
            "consumer_session_timeout_s": 4.0,
            "redis_timeout_s": 2.0,
        }
    )


class WorkerProcess:
    """One worker; its log accumulates across restarts."""

    def __init__(self, settings: Settings, name: str = "worker", log_dir: Path | None = None) -> None:
        self.settings = settings
        self.log = (log_dir or settings.var_dir) / f"{name}.log"
        self.web_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, wait_ready: bool = True, timeout: float = 60.0) -> WorkerProcess:
        marker = f"=== start {self.starts} ===\n".encode()
        with self.log.open("ab") as out:
            out.write(marker)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "worker"],
                env=settings_env(self.settings, self.web_port),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        if wait_ready:
            deadline = time.monotonic() + timeout
            while b"Worker]: Ready" not in self.log.read_bytes().rsplit(marker, 1)[-1]:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not become ready:\n{self.tail()}")
                time.sleep(0.1)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
