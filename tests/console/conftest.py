"""Fixtures for the console's browser tests: a real API server (uvicorn on a free loopback
port) on the session's Kafka and Redis, real keys, decisions scored through ``/v1/score``
with a review rule, and headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from confluent_kafka.admin import AdminClient, NewTopic

from api.main import create_app
from contracts.settings import Settings
from embedded import free_port
from store.key_admin import create_key
from tests.console.browsing import CHROMIUM, REVIEW_RULE, SHOTS, Console


def _topic(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)]).values():
        future.result(30)


def _tx(event_id: str, account: str, card: str, amount: float, minutes_ago: int) -> dict[str, object]:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return {"event_id": event_id, "occurred_at": at.isoformat(), "amount": amount, "currency": "EUR",
            "card_id": card, "merchant_id": f"m{int(amount) % 3}", "account_id": account,
            "channel": "ecom"}  # fmt: skip


@pytest.fixture()
def console(services, redis_client, candidate_registry, tmp_path) -> Iterator[Console]:
    settings = Settings(
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        topic_labels=f"labels-{uuid.uuid4().hex[:10]}",
        model_dir=candidate_registry.root,
        api_rate_per_s=10_000,
        api_rate_burst=10_000,
        api_kafka_timeout_s=10.0,
        # Reviews come from the review rule alone, whatever the small test model's scores:
        # the pages' counts are the rule's 12 payments above 400.
        review_capacity_policy=False,
        elevated_threshold=100,
        highest_threshold=100,
    )
    _topic(settings.bootstrap, settings.topic_labels)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    keys = {
        "admin": create_key(settings, "admin", None, "console-admin")[1],
        "analyst_a": create_key(settings, "analyst", "acme", "analyst-a")[1],
        "analyst_b": create_key(settings, "analyst", "globex", "analyst-b")[1],
    }
    c = Console(f"http://127.0.0.1:{port}", settings, keys)
    with c.api("admin") as admin:
        assert admin.post("/v1/rules", json={"text": REVIEW_RULE}).status_code == 201
        time.sleep(1.2)  # /v1/score follows the rule store's version within a second
        a = [_tx(f"a{i:02d}", "acme", f"card{i % 4}", [35.0, 80.0, 640.0, 12.5, 990.0][i % 5], 300 - 9 * i)
             for i in range(30)]  # fmt: skip
        b = [_tx(f"b{i:02d}", "globex", "cardB", 720.0 + i, 200 - i) for i in range(4)]
        for batch in (a[:15], a[15:], b):
            got = admin.post("/v1/score", json=batch)
            assert got.status_code == 200, got.text
    c.ids = {"acme": [t["event_id"] for t in a], "globex": [t["event_id"] for t in b]}
    try:
        yield c
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture()
def page(console):
    """A 1280 px page of a fresh headless Chromium. Started after the data is seeded and
    closed after the test: Playwright's sync API keeps an event loop running meanwhile."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            pg = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            pg.set_default_timeout(15_000)
            pg.on("dialog", lambda d: d.accept())  # the confirmations: accepted
            yield pg
        finally:
            browser.close()
