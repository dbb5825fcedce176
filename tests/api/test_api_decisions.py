"""Decisions: write-once indexing in put_new, tenant isolation, search with cursor pagination."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis

from contracts.records import Decision
from contracts.settings import Settings
from features.catalogue import FEATURE_NAMES
from store.layout import decision_key
from tests.api.apihelp import T0, bearer, decision_body, new_key, pseudonym, put, ref, tx

pytestmark = pytest.mark.services


def test_put_new_is_write_once_and_indexes_only_the_first_record(api_settings, redis_client: redis.Redis):
    t = tx("e1", account="acme", card="c9", customer="u1", merchant="m3")
    first = decision_body("e1", level="elevated", decision="review", score=70)
    again = decision_body("e1", level="normal", decision="allow", score=5)
    assert put(api_settings, [(t, first)]) == [first]
    assert put(api_settings, [(t, again), (tx("e2"), again.replace(b"e1", b"e2"))]) == [
        first,
        again.replace(b"e1", b"e2"),
    ]
    assert redis_client.get("rw:decision:{acme:e1}") == first
    meta = redis_client.hgetall("rw:{api}:dmeta:acme:e1")
    c9, u1, m3 = (
        pseudonym(api_settings, k, v) for k, v in [("card", "c9"), ("customer", "u1"), ("merchant", "m3")]
    )
    assert {k.decode(): v.decode() for k, v in meta.items() if k != b"t"} == {
        "a": "acme",
        "c": c9,
        "u": u1,
        "m": m3,
        "l": "elevated",
        "d": "review",
    }
    assert "c9" not in c9 and len(c9) == 20  # a pseudonym, not the card id
    for key in [
        "all",
        "account:acme",
        f"card:{c9}",
        f"customer:{u1}",
        f"merchant:{m3}",
        "level:elevated",
        "decision:review",
    ]:
        assert redis_client.zscore(f"rw:{{api}}:dx:{key}", "acme:e1") is not None, key
        assert 0 < redis_client.ttl(f"rw:{{api}}:dx:{key}") <= api_settings.decision_ttl_s
    # The redelivered e1 changed no index: only e2 (no account) is normal/allow.
    assert redis_client.zrange("rw:{api}:dx:level:normal", 0, -1) == [b":e2"]
    assert redis_client.zrange("rw:{api}:dx:decision:allow", 0, -1) == [b":e2"]
    assert redis_client.zrange("rw:{api}:rv:open", 0, -1) == [b"acme:e1"]
    assert redis_client.zrange("rw:{api}:rv:open:acme", 0, -1) == [b"acme:e1"]
    assert 0 < redis_client.ttl("rw:{api}:dmeta:acme:e1") <= api_settings.decision_ttl_s


def test_indexes_are_trimmed_to_the_decision_ttl(api_settings, redis_client: redis.Redis):
    ttl = 3600
    old = decision_body("old", scored_at=datetime.now(UTC) - timedelta(seconds=ttl + 60))
    put(api_settings, [(tx("old", card="c1"), old)], ttl_s=ttl)
    card = f"rw:{{api}}:dx:card:{pseudonym(api_settings, 'card', 'c1')}"
    assert redis_client.zcard(card) == 0  # trimmed by its own write: older than the TTL
    recent = decision_body("recent", scored_at=datetime.now(UTC) - timedelta(seconds=ttl - 60))
    put(api_settings, [(tx("recent", card="c1"), recent)], ttl_s=ttl)
    redis_client.zadd(card, {"stale": (datetime.now(UTC).timestamp() - ttl - 5) * 1e6})
    put(api_settings, [(tx("new", card="c1"), decision_body("new"))], ttl_s=ttl)
    assert redis_client.zrange(card, 0, -1) == [b":recent", b":new"]


def test_cross_account_lookups_answer_404_exactly_like_unknown_ids(client, api_settings):
    accounts = ["acme", "globex", "initech"]
    rng = random.Random(8)
    owner = {f"evt-{i}": accounts[i % 3] for i in range(600)}
    owner.update({f"noacct-{i}": None for i in range(30)})
    put(api_settings, [(tx(e, account=a), decision_body(e)) for e, a in owner.items()])
    keys = {a: bearer(new_key(api_settings, rng.choice(["analyst", "admin"]), a)[1]) for a in accounts}
    looked = 0
    for _ in range(1000):
        account = rng.choice(accounts)
        event_id = rng.choice([e for e, a in owner.items() if a != account])
        got = client.get(f"/v1/decisions/{event_id}", headers=keys[account])
        assert got.status_code == 404, (account, event_id)
        assert got.json() == {"detail": f"no decision for event_id {event_id!r}"}
        looked += 1
    assert looked == 1000
    unknown = client.get("/v1/decisions/evt-unknown", headers=keys["acme"])
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"detail": "no decision for event_id 'evt-unknown'"},
    )
    for event_id in ["evt-0", "evt-3", "evt-597"]:
        assert client.get(f"/v1/decisions/{event_id}", headers=keys["acme"]).json()["event_id"] == event_id
    unbound = bearer(new_key(api_settings, "analyst")[1])
    assert client.get("/v1/decisions/evt-1", headers=unbound).status_code == 200
    assert client.get("/v1/decisions/noacct-1", headers=unbound).status_code == 200


def _all_pages(client, headers, params, limit):
    seen, cursor, pages = [], None, 0
    while True:
        query = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
        got = client.get("/v1/decisions", headers=headers, params=query)
        assert got.status_code == 200, got.text
        body = got.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        seen += [(d["event_id"], d["scored_at"]) for d in body["items"]]
        cursor, pages = body["next_cursor"], pages + 1
        if cursor is None:
            return seen, pages


@pytest.fixture()
def corpus(api_settings):
    """400 decisions over 2 accounts, 5 cards and 3 levels, in batches sharing a scored_at (ties)."""
    rng = random.Random(3)
    levels = [("normal", "allow"), ("elevated", "review"), ("highest", "block")]
    rows = []
    for batch in range(40):
        at = T0 + timedelta(seconds=batch * 13)
        records = []
        for _ in range(10):
            eid = f"e{rng.randrange(10**9):09d}"
            level, decision = rng.choice(levels)
            t = tx(
                eid,
                account=rng.choice(["acme", "globex"]),
                card=f"c{rng.randrange(5)}",
                customer=f"u{rng.randrange(3)}",
                merchant=f"m{rng.randrange(4)}",
            )
            records.append((t, decision_body(eid, scored_at=at, level=level, decision=decision)))
            rows.append(
                {
                    "event_id": eid,
                    "at": at,
                    "account": t.account_id,
                    "card": t.card_id,
                    "customer": t.customer_id,
                    "merchant": t.merchant_id,
                    "level": level,
                    "decision": decision,
                }
            )
        put(api_settings, records)
    return rows


def _expected(rows, newest=True, **match):
    picked = [r for r in rows if all(r[k] == v for k, v in match.items())]
    # Newest first; ties (same scored_at) in Redis order: member (the reference) descending.
    order = sorted(picked, key=lambda r: (r["at"], ref(r["event_id"], r["account"])), reverse=newest)
    return [r["event_id"] for r in order]


def test_search_pages_return_every_match_exactly_once_newest_first(client, api_settings, corpus):
    admin = bearer(new_key(api_settings, "admin")[1])
    seen, pages = _all_pages(client, admin, {}, 7)
    assert [e for e, _ in seen] == _expected(corpus)
    assert pages == -(-len(corpus) // 7)
    stamps = [s for _, s in seen]
    assert stamps == sorted(stamps, reverse=True)
    for params, match in [
        ({"card_id": "c2"}, {"card": "c2"}),
        ({"card_id": "c2", "risk_level": "highest"}, {"card": "c2", "level": "highest"}),
        ({"customer_id": "u1", "decision": "review"}, {"customer": "u1", "decision": "review"}),
        ({"merchant_id": "m0", "account_id": "globex"}, {"merchant": "m0", "account": "globex"}),
        ({"decision": "block"}, {"decision": "block"}),
    ]:
        assert [e for e, _ in _all_pages(client, admin, params, 5)[0]] == _expected(corpus, **match), params
    oldest, _ = _all_pages(client, admin, {"order": "oldest", "risk_level": "normal"}, 9)
    assert [e for e, _ in oldest] == _expected(corpus, newest=False, level="normal")
    since, until = T0 + timedelta(seconds=13 * 5), T0 + timedelta(seconds=13 * 20)
    window, _ = _all_pages(client, admin, {"since": since.isoformat(), "until": until.isoformat()}, 11)
    assert [e for e, _ in window] == [e for e in _expected(corpus) if since <= _at(corpus, e) <= until]


def _at(rows, event_id):
    return next(r["at"] for r in rows if r["event_id"] == event_id)


def test_search_is_scoped_to_the_keys_account_and_pages_stay_exact_under_writes(client, api_settings, corpus):
    acme = bearer(new_key(api_settings, "analyst", "acme")[1])
    first = client.get("/v1/decisions", headers=acme, params={"limit": 10}).json()
    # New decisions arrive between pages: they are newer than the first page, so not in this walk.
    later = [(tx(f"late{i}", account="acme"), decision_body(f"late{i}")) for i in range(5)]
    put(api_settings, later)
    seen = [d["event_id"] for d in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/v1/decisions", headers=acme, params={"limit": 10, "cursor": cursor}).json()
        seen += [d["event_id"] for d in page["items"]]
        cursor = page["next_cursor"]
    assert seen == _expected(corpus, account="acme")
    other = client.get("/v1/decisions", headers=acme, params={"account_id": "globex"}).json()
    assert other == {"items": [], "next_cursor": None}
    assert {
        d["event_id"]
        for d in client.get("/v1/decisions", headers=acme, params={"card_id": "c1"}).json()["items"]
    } <= {r["event_id"] for r in corpus if r["account"] == "acme"} | {f"late{i}" for i in range(5)}


def test_cursor_is_bound_to_its_query_and_page_size_is_capped(client, api_settings, corpus):
    analyst = bearer(new_key(api_settings, "analyst")[1])
    page = client.get("/v1/decisions", headers=analyst, params={"card_id": "c1", "limit": 2}).json()
    cursor = page["next_cursor"]
    for params in [
        {"card_id": "c2", "cursor": cursor},
        {"cursor": cursor},
        {"cursor": "garbage"},
        {"card_id": "c1", "order": "oldest", "cursor": cursor},
    ]:
        got = client.get("/v1/decisions", headers=analyst, params=params)
        assert got.status_code == 422 and "cursor" in got.json()["detail"], params
    acme = bearer(new_key(api_settings, "analyst", "acme")[1])
    assert (
        client.get("/v1/decisions", headers=acme, params={"card_id": "c1", "cursor": cursor}).status_code
        == 422
    )
    big = client.get("/v1/decisions", headers=analyst, params={"limit": 10_000}).json()
    assert len(big["items"]) == api_settings.api_page_max
    bad = client.get("/v1/decisions", headers=analyst, params={"since": "2026-01-01T00:00:00"})
    assert bad.status_code == 422 and set(bad.json()) == {"detail"}


def test_a_rare_match_pages_through_the_scan_budget(services, redis_client, corpus):
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings = Settings(
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        api_search_scan_max=100,
        api_rate_per_s=1000,
        api_rate_burst=1000,
    )
    admin = bearer(new_key(settings, "admin")[1])
    with TestClient(create_app(settings)) as c:
        # account + decision: the smallest index is walked, the other filter checked per member.
        seen, pages = _all_pages(c, admin, {"account_id": "acme", "decision": "block"}, 50)
    assert [e for e, _ in seen] == _expected(corpus, account="acme", decision="block")
    assert pages >= 2


def test_records_serve_unchanged(client, api_settings):
    body = decision_body("e-raw")
    put(api_settings, [(tx("e-raw"), body)])
    analyst = bearer(new_key(api_settings, "analyst")[1])
    assert client.get("/v1/decisions/e-raw", headers=analyst).content == body
    listed = client.get("/v1/decisions", headers=analyst).content
    assert body in listed and orjson.loads(listed)["items"][0] == orjson.loads(body)


def _score(client, key, n: int = 30) -> list[dict]:
    """Score ``n`` payments on one card through the API (the worker's pipeline)."""
    events = [
        {
            "event_id": f"x{i}",
            "occurred_at": (T0 + timedelta(minutes=i)).isoformat(),
            "amount": 20.0 + 37 * i,
            "currency": "EUR",
            "card_id": "card-x",
            "merchant_id": "m-x",
        }
        for i in range(n)
    ]
    got = client.post("/v1/score", headers=key("service"), json=events)
    assert got.status_code == 200, got.text
    return got.json()


def test_allowed_payments_are_stored_unexplained_and_explained_on_demand(client, key, redis_client):
    analyst = key("analyst")
    scored = _score(client, key)
    allowed = [r["event_id"] for r in scored if r["decision"] == "allow"]
    assert allowed
    for event_id in allowed:
        stored = orjson.loads(redis_client.get(decision_key(ref(event_id))))
        assert stored["reasons"] == [] and stored["explained"] is False
        assert "features" not in stored and len(stored["feature_vector"]["values"]) == len(FEATURE_NAMES)
        got = client.get(f"/v1/decisions/{event_id}", headers=analyst)
        assert got.status_code == 200
        record = Decision.model_validate(got.json())
        assert record.explained and record.reasons and all(r.text for r in record.reasons)
        assert list(record.features) == list(FEATURE_NAMES)
        assert got.json() == next(r for r in scored if r["event_id"] == event_id)
        explanation = client.get(f"/v1/decisions/{event_id}/explanation", headers=analyst)
        assert explanation.status_code == 200, explanation.text
        body = explanation.json()
        assert body["model_version"] == record.model.batch_version
        assert list(body["contributions"]) == list(FEATURE_NAMES)
        assert abs(sum(body["contributions"].values()) + body["base_value"] - body["margin"]) <= 1e-4
        for reason in record.reasons:
            if reason.feature != "online_model":
                assert reason.contribution == body["contributions"][reason.feature]
    # Searches serve the same shape.
    page = client.get("/v1/decisions", headers=analyst, params={"card_id": "card-x", "limit": 200}).json()
    assert {r["event_id"] for r in page["items"]} == {r["event_id"] for r in scored}
    assert all(r["explained"] and "features" in r for r in page["items"])
    assert client.get("/v1/decisions/nope/explanation", headers=analyst).status_code == 404


def test_a_record_whose_model_version_is_gone_is_served_unexplained(client, key, api_settings, redis_client):
    (record,) = _score(client, key, n=1)
    body = redis_client.get(decision_key(ref(record["event_id"])))
    version = record["model"]["batch_version"].encode()
    orphan = body.replace(b'"x0"', b'"orphan"').replace(version, b"v-deleted")
    assert orjson.loads(orphan)["explained"] is False
    put(api_settings, [(tx("orphan", card="card-x"), orphan)])
    analyst = key("analyst")
    got = client.get("/v1/decisions/orphan", headers=analyst).json()
    assert got["explained"] is False and got["reasons"] == [] and got["features"]["amount"]["value"] == 20.0
    missing = client.get("/v1/decisions/orphan/explanation", headers=analyst)
    assert missing.status_code == 404 and "v-deleted" in missing.json()["detail"]
