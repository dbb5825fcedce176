"""Reviews and feedback: the queue, assign, close → exactly one label on the real topic; POST /v1/labels."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from contracts.records import Label
from embedded import free_port
from tests.api.apihelp import bearer, create_topic, decision_body, new_key, put, tx
from tests.kafka_io import read_topic

pytestmark = pytest.mark.services


def labels_on(settings, expect: int, timeout: float = 20.0) -> list[dict]:
    """Every message on the test's labels topic (read with the plain confluent consumer)."""
    msgs = read_topic(
        settings.bootstrap, settings.topic_labels, 1, until=lambda m: len(m) >= expect, timeout=timeout
    )
    out = []
    for m in msgs:
        value = json.loads(m.value())
        assert m.key().decode() == value["event_id"]
        Label.model_validate(value)
        out.append(value)
    return out


@pytest.fixture()
def queue(api_settings):
    """Three review decisions (acme, acme, globex) and one block decision."""
    create_topic(api_settings.bootstrap, api_settings.topic_labels)
    put(
        api_settings,
        [
            (tx("r1", account="acme"), decision_body("r1", level="elevated", decision="review", score=70)),
            (tx("r2", account="acme"), decision_body("r2", level="elevated", decision="review", score=71)),
            (tx("r3", account="globex"), decision_body("r3", level="elevated", decision="review", score=72)),
            (tx("b1", account="acme"), decision_body("b1")),
        ],
    )
    return api_settings


def _ids(client, headers, **params):
    got = client.get("/v1/reviews", headers=headers, params=params)
    assert got.status_code == 200, got.text
    return [item["event_id"] for item in got.json()["items"]]


def test_closing_a_review_publishes_exactly_one_label(client, queue):
    analyst_id, secret = new_key(queue, "analyst", "acme")
    analyst = bearer(secret)
    items = client.get("/v1/reviews", headers=analyst).json()["items"]
    assert [i["event_id"] for i in items] == ["r2", "r1"]  # acme only, newest first (ties: id desc)
    assert items[0]["status"] == "open" and items[0]["decision"]["risk_score"] == 71

    assigned = client.post("/v1/reviews/r1/assign", headers=analyst)
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["status"], assigned.json()["assignee"]) == ("assigned", analyst_id)
    assert _ids(client, analyst, status="open") == ["r2"]
    assert _ids(client, analyst, status="assigned") == ["r1"]

    closed = client.post(
        "/v1/reviews/r1/close", headers=analyst, json={"outcome": "fraud", "note": "card stolen"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["note"] == "card stolen"
    again = client.post("/v1/reviews/r1/close", headers=analyst, json={"outcome": "legit"})
    assert again.status_code == 409 and set(again.json()) == {"detail"}
    assert client.post("/v1/reviews/r1/assign", headers=analyst).status_code == 409

    (label,) = labels_on(queue, 1)
    assert (label["event_id"], label["label"], label["source"]) == ("r1", "fraud", "review")
    assert label["reported_at"].startswith(closed.json()["closed_at"][:19])
    closed_items = client.get("/v1/reviews", headers=analyst, params={"status": "closed"}).json()["items"]
    assert [(i["event_id"], i["outcome"], i["closed_by"]) for i in closed_items] == [
        ("r1", "fraud", analyst_id)
    ]


def test_concurrent_closes_publish_one_label(queue):
    with TestClient(create_app(queue)) as client:
        analyst = bearer(new_key(queue, "analyst")[1])

        def close(_: int) -> int:
            return client.post("/v1/reviews/r2/close", headers=analyst, json={"outcome": "legit"}).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = sorted(pool.map(close, range(8)))
    assert codes == [200] + [409] * 7
    assert [(lab["event_id"], lab["label"]) for lab in labels_on(queue, 1)] == [("r2", "legit")]


def test_reviews_of_other_accounts_and_non_review_decisions_are_404(client, queue):
    acme = bearer(new_key(queue, "analyst", "acme")[1])
    for path in ["/v1/reviews/r3/assign", "/v1/reviews/b1/assign", "/v1/reviews/nope/assign"]:
        got = client.post(path, headers=acme)
        assert got.status_code == 404 and "no review" in got.json()["detail"], path
    assert client.post("/v1/reviews/r3/close", headers=acme, json={"outcome": "fraud"}).status_code == 404
    assert client.get("/v1/reviews", headers=acme, params={"account_id": "globex"}).json()["items"] == []
    admin = bearer(new_key(queue, "admin")[1])
    assert _ids(client, admin) == ["r3", "r2", "r1"]
    assert _ids(client, admin, account_id="globex") == ["r3"]
    bad = client.post("/v1/reviews/r3/close", headers=admin, json={"outcome": "maybe"})
    assert bad.status_code == 422 and "outcome" in bad.json()["detail"]
    other = client.post("/v1/reviews/r3/assign", headers=admin, json={"assignee": "dana"})
    assert other.json()["assignee"] == "dana"


def test_review_changes_are_audited(client, queue):
    admin_id, secret = new_key(queue, "admin")
    admin = bearer(secret)
    client.post("/v1/reviews/r1/assign", headers=admin, json={"assignee": "dana"})
    client.post("/v1/reviews/r1/close", headers=admin, json={"outcome": "legit"})
    close, assign = client.get("/v1/audit", headers=admin, params={"limit": 2}).json()["items"]
    # The target names the event with its account (events are (account, event id)).
    assert (assign["action"], assign["who"], assign["target"]) == ("review.assign", admin_id, "acme:r1")
    assert assign["before"]["status"] == "open" and assign["after"]["assignee"] == "dana"
    assert close["action"] == "review.close" and close["before"]["status"] == "assigned"
    assert close["after"]["outcome"] == "legit"


def test_a_close_whose_label_kafka_does_not_take_is_reopened_with_503(queue, redis_client):
    dead = queue.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{free_port()}",
            "api_kafka_timeout_s": 1.0,
            "api_probe_timeout_s": 0.5,
        }
    )
    with TestClient(create_app(dead)) as client:
        analyst = bearer(new_key(queue, "analyst")[1])
        got = client.post("/v1/reviews/r1/close", headers=analyst, json={"outcome": "fraud"})
        assert got.status_code == 503 and set(got.json()) == {"detail"}
        items = client.get("/v1/reviews", headers=analyst).json()["items"]
        assert {i["event_id"]: i["status"] for i in items} == {"r1": "open", "r2": "open", "r3": "open"}
    with TestClient(create_app(queue)) as client:
        assert (
            client.post("/v1/reviews/r1/close", headers=analyst, json={"outcome": "fraud"}).status_code == 200
        )
    assert [lab["event_id"] for lab in labels_on(queue, 1)] == ["r1"]


def test_post_labels_single_and_batch_reach_the_topic(client, queue):
    service = bearer(new_key(queue, "service")[1])
    one = {
        "event_id": "x1",
        "label": "fraud",
        "reported_at": "2026-03-01T10:00:00+01:00",
        "source": "chargeback",
    }
    got = client.post("/v1/labels", headers=service, json=one)
    assert (got.status_code, got.json()) == (202, {"published": 1})
    batch = [{**one, "event_id": f"x{i}", "label": "legit"} for i in range(2, 6)]
    assert client.post("/v1/labels", headers=service, json=batch).json() == {"published": 4}
    on_topic = labels_on(queue, 5)
    assert sorted(lab["event_id"] for lab in on_topic) == ["x1", "x2", "x3", "x4", "x5"]
    assert next(lab for lab in on_topic if lab["event_id"] == "x1")["label"] == "fraud"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"event_id": "x", "label": "bad", "reported_at": "2026-03-01T10:00:00Z", "source": "s"}, "label"),
        (
            {"event_id": "x", "label": "fraud", "reported_at": "2026-03-01 10:00", "source": "s"},
            "reported_at",
        ),
        ({"event_id": "x", "label": "fraud", "reported_at": "2026-03-01T10:00:00Z"}, "source"),
        ([], "at least 1"),
        ("text", "list"),
        (
            [{"event_id": "", "label": "fraud", "reported_at": "2026-03-01T10:00:00Z", "source": "s"}],
            "event_id",
        ),
    ],
)
def test_bad_labels_answer_422_with_a_message_and_publish_nothing(client, queue, body, needle):
    service = bearer(new_key(queue, "service")[1])
    got = client.post("/v1/labels", headers=service, json=body)
    assert got.status_code == 422, got.text
    assert set(got.json()) == {"detail"} and needle in got.json()["detail"]


def test_labels_batch_cap_and_account_scope(queue):
    settings = queue.model_copy(update={"api_label_batch_max": 3})
    one = {"label": "fraud", "reported_at": "2026-03-01T10:00:00Z", "source": "chargeback"}
    with TestClient(create_app(settings)) as client:
        service = bearer(new_key(queue, "service")[1])
        big = client.post(
            "/v1/labels", headers=service, json=[{**one, "event_id": f"z{i}"} for i in range(4)]
        )
        assert big.status_code == 422 and "at most 3" in big.json()["detail"]
        acme = bearer(new_key(queue, "service", "acme")[1])
        theirs = client.post(
            "/v1/labels", headers=acme, json=[{**one, "event_id": "r1"}, {**one, "event_id": "r3"}]
        )
        assert theirs.status_code == 404 and theirs.json() == {"detail": "no decision for event_id 'r3'"}
        ours = client.post(
            "/v1/labels", headers=acme, json=[{**one, "event_id": "r1"}, {**one, "event_id": "b1"}]
        )
        assert ours.status_code == 202
    assert sorted(lab["event_id"] for lab in labels_on(queue, 2)) == ["b1", "r1"]


def test_an_account_bound_key_cannot_label_unknown_or_account_less_events(client, queue):
    put(queue, [(tx("n1"), decision_body("n1"))])  # a decision with no account
    one = {"label": "fraud", "reported_at": "2026-03-01T10:00:00Z", "source": "chargeback"}
    acme = bearer(new_key(queue, "service", "acme")[1])
    for event_id in ("nope", "n1"):
        got = client.post(
            "/v1/labels", headers=acme, json=[{**one, "event_id": "r1"}, {**one, "event_id": event_id}]
        )
        assert got.status_code == 404, got.text
        assert got.json() == {"detail": f"no decision for event_id {event_id!r}"}
    # An unbound service key may label both; only its labels reach the topic.
    service = bearer(new_key(queue, "service")[1])
    both = [{**one, "event_id": "nope"}, {**one, "event_id": "n1"}]
    assert client.post("/v1/labels", headers=service, json=both).status_code == 202
    assert sorted(lab["event_id"] for lab in labels_on(queue, 2)) == ["n1", "nope"]
