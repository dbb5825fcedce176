"""Embedded Tansu and Redis: real processes, real clients, and no orphans in any exit path."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
from click.testing import CliRunner
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from cli.services import services as services_command
from embedded import EmbeddedServiceError, EmbeddedServices, find_redis_server, find_tansu

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[EmbeddedServices]:
    with EmbeddedServices(workdir=tmp_path) as started:
        yield started


def _gone(pid: int) -> bool:
    """Whether pid no longer runs (an unreaped zombie counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _wait_all_gone(pids: list[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"orphans left: {[p for p in pids if not _gone(p)]}"
        time.sleep(0.05)


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def _child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKWIRE_")}
    env.update(PYTHONPATH=str(ROOT), RISKWIRE_VAR_DIR=str(tmp_path / "var"), **extra)
    return env


def test_binaries_are_found() -> None:
    assert os.access(find_tansu(), os.X_OK)
    assert os.access(find_redis_server(), os.X_OK)


def test_kafka_and_redis_answer(services: EmbeddedServices) -> None:
    conf: dict[str, str | int | float | bool] = {"bootstrap.servers": services.kafka_bootstrap}
    admin = AdminClient(conf)  # keep a reference: a collected client cancels its futures
    created = admin.create_topics([NewTopic("smoke", num_partitions=1)])
    created["smoke"].result(timeout=10)
    producer = Producer(conf)
    producer.produce("smoke", key=b"card-1", value=b"hello")
    assert producer.flush(10) == 0
    consumer = Consumer({**conf, "group.id": "smoke", "enable.auto.commit": False})
    consumer.assign([TopicPartition("smoke", 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + 10
    message = None
    while message is None and time.monotonic() < deadline:
        polled = consumer.poll(0.2)
        if polled is not None and polled.error() is None:
            message = polled
    consumer.close()
    assert message is not None
    assert message.value() == b"hello"

    client = redis.Redis.from_url(services.redis_url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()


def test_stop_leaves_no_child_and_is_idempotent(tmp_path: Path) -> None:
    embedded = EmbeddedServices(workdir=tmp_path).start()
    pids = list(embedded.pids.values())
    assert len(pids) == 2
    embedded.stop()
    embedded.stop()
    assert all(_gone(pid) for pid in pids)


def test_temporary_workdir_is_removed(tmp_path: Path) -> None:
    with EmbeddedServices() as embedded:
        log = embedded.redis_log
        assert log is not None
        assert log.exists()
    assert not log.parent.exists()


def test_redis_restarts_on_the_same_port(services: EmbeddedServices) -> None:
    url, old_pid = services.redis_url, services.pids["redis"]
    services.stop_redis()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    services.start_redis()
    assert services.redis_url == url
    assert services.pids["redis"] != old_pid
    assert redis.Redis.from_url(url).ping()


def test_busy_fixed_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        embedded = EmbeddedServices(kafka_port=port, workdir=tmp_path, with_redis=False)
        with pytest.raises(EmbeddedServiceError, match="already in use"):
            embedded.start()
    assert embedded.pids == {}


def test_parent_sigkill_leaves_no_orphan(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids.json"
    script = textwrap.dedent(
        f"""
        import json, pathlib, time
        from embedded import EmbeddedServices
        svc = EmbeddedServices(workdir=pathlib.Path({str(tmp_path)!r})).start()
        pathlib.Path({str(pid_file)!r}).write_text(json.dumps(list(svc.pids.values())))
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=_child_env(tmp_path))
    pids = json.loads(_wait_for_file(pid_file, parent))
    assert len(pids) == 2
    assert not any(_gone(pid) for pid in pids)
    parent.kill()
    parent.wait()
    _wait_all_gone(pids)


@pytest.mark.parametrize("external", [None, "kafka"])
def test_cli_sigterm_exits_zero_without_orphans(
    tmp_path: Path, services: EmbeddedServices, external: str | None
) -> None:
    ready = tmp_path / "ready.json"
    extra = {"RISKWIRE_KAFKA_BOOTSTRAP": services.kafka_bootstrap} if external else {}
    argv = [sys.executable, "-m", "cli.services", "--kafka-port", "0", "--redis-port", "0"]
    cli = subprocess.Popen(
        [*argv, "--ready-file", str(ready)],
        cwd=ROOT,
        env=_child_env(tmp_path, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    addresses = json.loads(_wait_for_file(ready, cli))
    children = [child.pid for child in psutil.Process(cli.pid).children(recursive=True)]
    assert len(children) == (1 if external else 2)
    assert redis.Redis.from_url(addresses["redis_url"]).ping()
    cli.send_signal(signal.SIGTERM)
    output, _ = cli.communicate(timeout=15)
    assert cli.returncode == 0, output.decode()
    assert b"export RISKWIRE_KAFKA_BOOTSTRAP=" in output
    _wait_all_gone(children)


def test_cli_with_external_services_starts_nothing(services: EmbeddedServices) -> None:
    env = {
        "RISKWIRE_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "RISKWIRE_REDIS_URL": services.redis_url,
    }
    before = psutil.Process().children()
    result = CliRunner().invoke(services_command, [], env=env)
    assert result.exit_code == 0, result.output
    assert "External services are configured" in result.output
    assert psutil.Process().children() == before


def test_relative_workdir_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`riskwire services` passes var/services, relative to where it runs."""
    monkeypatch.chdir(tmp_path)
    with EmbeddedServices(workdir=Path("var/services"), with_kafka=False) as running:
        assert redis.Redis.from_url(running.redis_url).ping()
    assert (tmp_path / "var/services/redis").is_dir()
