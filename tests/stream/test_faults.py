"""The worker under faults, against the real broker and Redis: kill -9, bad input,
a Redis outage and a dead peer. Each test has its own topics, group and Redis db."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from confluent_kafka import Consumer, TopicPartition

from contracts.identity import event_ref, load_names, split_ref
from contracts.records import Transaction
from contracts.settings import Settings
from embedded import EmbeddedServices
from features.aggregates import RAW_FIELDS, RAW_INDEX, parse_aggregates
from features.offline import OfflineFeatureEngine
from pipeline.record_shapes import topic_body
from simulator import SimulationConfig, simulate
from store.feature_protocol import decode_stored
from store.feature_state import SyncOnlineFeatureStore
from store.layout import FeatureKeys, decision_key
from stream.topics import ensure_topics
from tests.kafka_io import produce, read_topic, wait_until
from tests.worker_proc import WorkerProcess, isolated_settings

pytestmark = pytest.mark.services


def _payments(cards: int, days: float, seed: int) -> list[dict]:
    return simulate(SimulationConfig(seed=seed, days=days, cards=cards, merchants=60)).transactions


def _messages(records: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(r["card_id"].encode(), json.dumps(r).encode()) for r in records]


def _decided(client: redis.Redis) -> set[str]:
    """The event ids with a decision record (the simulator's ids are unique across accounts)."""
    refs = (k.decode()[len("rw:decision:{") : -1] for k in client.scan_iter("rw:decision:{*", count=5000))
    return {split_ref(ref)[1] for ref in refs}


def _wait_decided(client: redis.Redis, ids: set[str], worker: WorkerProcess, timeout: float) -> None:
    try:
        wait_until(lambda: ids <= _decided(client), timeout, every=0.5)
    except TimeoutError:
        missing = len(ids - _decided(client))
        raise AssertionError(f"{missing} events without a decision\n{worker.tail()}") from None


def _assert_counted_once(client: redis.Redis, txs: list[Transaction], rng: random.Random) -> None:
    """A probe just after the last payment sees each card's and merchant's payments once.

    The stream spans less than 30 days, so the 30-day counts must equal the number of
    distinct payments per entity (a read-only ``peek``: the probe records nothing).
    """
    distinct = {t.event_id: t for t in txs}.values()
    after = max(t.occurred_at for t in distinct) + timedelta(seconds=1)
    # Feature state is per account: count each (account, card) and (account, merchant).
    cards = Counter((t.account_id, t.card_id) for t in distinct)
    merchants = Counter((t.account_id, t.merchant_id) for t in distinct)
    names = load_names(Settings())  # the worker's (the session's RISKWIRE_PSEUDONYM_KEY)
    store = SyncOnlineFeatureStore(client, dedupe_ttl_s=3600, grace_ms=3_600_000, names=names)
    probes = []
    for i, (account, card) in enumerate(rng.sample(sorted(cards, key=str), min(50, len(cards)))):
        theirs = sorted(m for a, m in merchants if a == account)
        probes.append(
            Transaction(
                event_id=f"probe-{i}",
                occurred_at=after,
                amount=1.0,
                currency="EUR",
                card_id=card,
                merchant_id=theirs[i % len(theirs)],
                account_id=account,
            )
        )
    seen = store.peek(probes)
    n_card, n_merchant = RAW_INDEX["card_n_30d"], RAW_INDEX["merchant_n_30d"]
    for probe, row in zip(probes, seen, strict=True):
        account = probe.account_id
        assert row[n_card] == cards[account, probe.card_id], f"{probe.card_id}: each payment counted once"
        assert row[n_merchant] == merchants[account, probe.merchant_id], (
            f"{probe.merchant_id}: each payment once"
        )


def test_kill_9_at_random_points_loses_nothing_and_counts_nothing_twice(services, worker_settings, tmp_path):
    s = isolated_settings(worker_settings, tmp_path, db=3)
    client = redis.Redis.from_url(s.redis)
    client.flushdb()
    ensure_topics(s)
    records = _payments(cards=1000, days=16, seed=5)  # long enough for ten kills at 5,000/s
    rng = random.Random(5)
    stream = list(records)
    for r in rng.sample(records, 500):  # redelivered duplicates, later in the stream
        stream.insert(rng.randrange(stream.index(r) + 1, len(stream) + 1), r)
    assert len(stream) >= 20_000
    produce(s.bootstrap, s.topic_transactions, _messages(stream))
    ids = {r["event_id"] for r in records}

    worker = WorkerProcess(s)
    kills = 0
    while kills < 10 and not ids <= _decided(client):
        worker.start()
        time.sleep(rng.uniform(0.1, 1.0))
        worker.kill9()
        kills += 1
    assert kills == 10, "the stream ended before ten kills: make it longer"
    worker.start()
    _wait_decided(client, ids, worker, timeout=180)
    assert _decided(client) == ids, "exactly one decision record per valid event"

    # Card windows only depend on the card's own events, which share a partition and
    # so arrive in publish order: they must equal the offline recomputation exactly.
    txs = [Transaction.model_validate(r) for r in stream]
    expected = parse_aggregates(OfflineFeatureEngine().record_and_fetch(txs))
    expected_by_id = {t.event_id: row for t, row in zip(txs, expected, strict=True)}
    account = {t.event_id: t.account_id for t in txs}
    stored_ids = sorted(ids)
    pipe = client.pipeline(transaction=False)
    for i in stored_ids:
        pipe.hget(FeatureKeys().event(event_ref(account[i], i)), "a")
    stored = decode_stored(pipe.execute())
    card_columns = [
        j for j, name in enumerate(RAW_FIELDS) if name.startswith("card_") and "fraud" not in name
    ]
    for event_id, row in zip(stored_ids, stored, strict=True):
        want = expected_by_id[event_id][card_columns]
        assert list(row[card_columns]) == pytest.approx(list(want), nan_ok=True), event_id
    # And the state holds each payment once, whatever the arrival order across partitions.
    _assert_counted_once(client, txs, rng)

    # Redelivery republishes, but always the record stored the first time.
    scores = read_topic(
        s.bootstrap, s.topic_scores, s.topic_partitions, until=lambda m: len(m) >= len(ids), timeout=60
    )
    sample = set(rng.sample(sorted(ids), 2000))
    for m in scores:
        event_id = m.key().decode()
        if event_id in sample:
            # The topic's record is derived from the stored bytes: the same, minus the features.
            stored = client.get(decision_key(event_ref(account[event_id], event_id)))
            assert m.value() == topic_body(stored), event_id

    # SIGTERM drains and commits: a restarted worker has nothing left to redo.
    assert worker.stop() == 0, worker.tail()
    consumer = Consumer({"bootstrap.servers": s.bootstrap, "group.id": s.app_id})
    tps = [TopicPartition(s.topic_transactions, p) for p in range(s.topic_partitions)]
    committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    consumer.close()
    # Offsets start at 0, so the committed offsets add up to the messages consumed.
    # (Tansu 0.6 under-reports high watermarks, so they are not compared.)
    assert sum(committed.values()) == len(stream), f"committed {committed} for {len(stream)} messages"


MALFORMED_KINDS = {
    "utf8": lambda r: b"\xff\xfe" + json.dumps(r).encode(),
    "json": lambda r: json.dumps(r).encode()[:-3],
    "types": lambda r: json.dumps({**r, "amount": str(r["amount"]), "card_id": 42}).encode(),
    "missing": lambda r: json.dumps(
        {k: v for k, v in r.items() if k not in ("amount", "merchant_id")}
    ).encode(),
    "nan": lambda r: json.dumps({**r, "amount": float("nan")}).encode(),
    "inf": lambda r: json.dumps({**r, "amount": float("inf")}).encode(),
    "negative": lambda r: json.dumps({**r, "amount": -abs(r["amount"])}).encode(),
    "version": lambda r: json.dumps({**r, "schema_version": 7}).encode(),
    "future": lambda r: json.dumps({**r, "occurred_at": "2099-12-31T00:00:00+00:00"}).encode(),
}


def test_malformed_input_goes_to_dlq_exactly_once_and_the_worker_runs_throughout(
    services, worker_settings, tmp_path
):
    s = isolated_settings(worker_settings, tmp_path, db=4)
    client = redis.Redis.from_url(s.redis)
    client.flushdb()
    ensure_topics(s)
    good = _payments(cards=500, days=11, seed=8)[:10_000]
    rng = random.Random(8)
    bad: dict[str, bytes] = {}
    kinds = list(MALFORMED_KINDS)
    for i in range(998):
        kind = kinds[i % len(kinds)]
        bad[f"bad-{kind}-{i}"] = MALFORMED_KINDS[kind](rng.choice(good))
    for i in range(2):  # 10 MB payloads, far above the 64 KB cap
        bad[f"bad-size-{i}"] = json.dumps({**good[i], "attributes": {"blob": "x" * 10_000_000}}).encode()
    stream = _messages(good)
    for key, value in bad.items():
        stream.insert(rng.randrange(len(stream) + 1), (key.encode(), value))

    worker = WorkerProcess(s).start()
    pid = worker.proc.pid
    produce(s.bootstrap, s.topic_transactions, stream, max_message_bytes=16 << 20)
    _wait_decided(client, {r["event_id"] for r in good}, worker, timeout=120)

    dlq = read_topic(
        s.bootstrap, s.topic_dlq, s.topic_partitions, until=lambda m: len(m) >= len(bad), timeout=60
    )
    keys = [m.key().decode() for m in dlq]
    assert sorted(keys) == sorted(bad), "each malformed message lands on dlq exactly once"
    for m in dlq:
        headers = dict(m.headers())
        key = m.key().decode()
        assert m.value() == bad[key], "the original bytes are kept"
        expected_class = {
            "utf8": "encoding",
            "json": "json",
            "size": "size",
            "version": "schema_version",
            "future": "future_timestamp",
        }.get(key.split("-")[1], "schema")
        assert headers["error_class"].decode() == expected_class, (key, headers["error"])
        assert headers["source_topic"].decode() == s.topic_transactions
    assert worker.alive() and worker.proc.pid == pid, "the worker ran throughout"
    assert _decided(client) == {r["event_id"] for r in good}
    worker.stop()


def test_redis_outage_pauses_and_resumes_without_loss(services, worker_settings, tmp_path):
    with EmbeddedServices(workdir=tmp_path / "redis", with_kafka=False, redis_persistent=True) as own:
        s = isolated_settings(worker_settings, tmp_path, db=0, redis_url=own.redis_url.rsplit("/", 1)[0])
        client = redis.Redis.from_url(s.redis)
        ensure_topics(s)
        records = _payments(cards=400, days=10, seed=9)[:6000]
        worker = WorkerProcess(s).start()
        pid = worker.proc.pid
        produce(s.bootstrap, s.topic_transactions, _messages(records[:2000]))
        wait_until(lambda: len(_decided(client)) > 500, 30)
        own.stop_redis()
        produce(s.bootstrap, s.topic_transactions, _messages(records[2000:]))
        time.sleep(10)
        own.start_redis()
        _wait_decided(client, {r["event_id"] for r in records}, worker, timeout=120)
        assert worker.alive() and worker.proc.pid == pid, "recovered without a restart"
        retries = [
            line
            for line in worker.get("/metrics").text.splitlines()
            if line.startswith("riskwire_batch_retries_total")
        ]
        assert float(retries[0].split()[-1]) > 0, "the outage was noticed and retried"
        _assert_counted_once(client, [Transaction.model_validate(r) for r in records], random.Random(9))
        worker.stop()


def test_two_workers_one_killed_the_other_takes_over(services, worker_settings, tmp_path):
    s = isolated_settings(worker_settings, tmp_path, db=5, partitions=4)
    client = redis.Redis.from_url(s.redis)
    client.flushdb()
    ensure_topics(s)
    records = _payments(cards=600, days=10, seed=12)[:8000]
    a = WorkerProcess(s, "worker-a").start()
    b = WorkerProcess(s, "worker-b").start()
    wait_until(
        lambda: (
            b"Setting newly assigned partitions" in a.log.read_bytes().split(b"=== start")[-1]
            and a.log.read_bytes().count(b"Setting newly assigned partitions") >= 2
        ),
        30,
    )
    produce(s.bootstrap, s.topic_transactions, _messages(records[:3000]))
    wait_until(lambda: len(_decided(client)) > 1000, 30)
    b.kill9()
    produce(s.bootstrap, s.topic_transactions, _messages(records[3000:]))
    _wait_decided(client, {r["event_id"] for r in records}, a, timeout=120)
    assert _decided(client) == {r["event_id"] for r in records}
    scores = read_topic(
        s.bootstrap,
        s.topic_scores,
        s.topic_partitions,
        until=lambda m: len({x.key() for x in m}) >= len(records),
        timeout=60,
    )
    assert {m.key().decode() for m in scores} == {r["event_id"] for r in records}
    assert a.alive()
    a.stop()
