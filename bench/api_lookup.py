"""Decision lookups through the real API (uvicorn child process) at a steady rate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.end_to_end import percentile
from contracts.settings import Settings
from embedded import free_port


def lookup_latency(
    settings: Settings, secret: str, event_ids: Sequence[str], rate: float, seconds: float, log: Path
) -> tuple[float, float, int]:
    """p50 and p99 ms of ``GET /v1/decisions/{id}`` at ``rate`` requests/s, and the request count."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        RISKWIRE_KAFKA_BOOTSTRAP=settings.bootstrap,
        RISKWIRE_REDIS_URL=settings.redis,
        RISKWIRE_MODEL_DIR=str(settings.model_dir),
        RISKWIRE_VAR_DIR=str(settings.var_dir),  # its API key pepper is the bench's (store/key_hash.py)
        # Many requests from one key: the limit is not what this measures.
        RISKWIRE_API_RATE_PER_S="100000",
        RISKWIRE_API_RATE_BURST="100000",
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "api", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"API did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
            latencies = []
            n = int(rate * seconds)
            started = time.monotonic()
            for i in range(n):
                due = started + i / rate
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                t0 = time.perf_counter()
                got = client.get(f"/v1/decisions/{event_ids[i % len(event_ids)]}")
                latencies.append((time.perf_counter() - t0) * 1000)
                if got.status_code != 200:
                    raise RuntimeError(f"lookup answered {got.status_code}: {got.text[:200]}")
    finally:
        proc.terminate()
        proc.wait(20)
    return percentile(latencies, 0.5), percentile(latencies, 0.99), len(latencies)
