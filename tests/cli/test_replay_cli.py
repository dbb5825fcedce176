"""`riskwire replay` as people run it: a private Redis and features in memory by default, or
the Redis of ``--redis-url``; both write the same decisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis

from simulator import SimulationConfig, simulate

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]


def _replay(tmp: Path, model_dir: Path, name: str, *extra: str, **env: str) -> dict[str, dict]:
    out = tmp / f"{name}.jsonl"
    run_env = {**os.environ, "RISKWIRE_MODEL_DIR": str(model_dir), "RISKWIRE_VAR_DIR": str(tmp), **env}
    argv = [sys.executable, "-m", "cli", "replay", "--transactions", str(tmp / "tx.jsonl"), "--out", str(out)]
    done = subprocess.run([*argv, *extra], env=run_env, cwd=ROOT, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"Traceback" not in done.stderr
    return {r["event_id"]: r for r in (orjson.loads(line) for line in out.read_bytes().splitlines())}


def test_replay_private_and_into_a_redis_give_the_same_decisions(services, model_dir, tmp_path):
    records = simulate(SimulationConfig(seed=31, days=2, cards=150, merchants=20)).transactions
    (tmp_path / "tx.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    # The cluster setting names the production Redis; a private replay's own is one node.
    private = _replay(tmp_path, model_dir, "private", RISKWIRE_REDIS_CLUSTER="true")
    url = services.redis_url.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(url).flushdb()
    into = _replay(tmp_path, model_dir, "into", "--redis-url", url)
    assert private.keys() == into.keys() == {r["event_id"] for r in records}
    for event_id, record in private.items():
        assert record["feature_vector"] == into[event_id]["feature_vector"], event_id
        assert record["risk_score"] == into[event_id]["risk_score"], event_id
    # Into a Redis, the decisions are searchable; the private replay's Redis is gone.
    assert redis.Redis.from_url(url).exists("rw:{api}:dx:all")
