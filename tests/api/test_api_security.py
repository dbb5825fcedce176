"""Issue 14's API items: auth before the body, peppered key hashes, global-admin routes,
strict labels, audited label writes, model versions without paths, the last admin key."""

from __future__ import annotations

import hashlib
import time

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from store.layout import API_KEYS_INDEX, api_key
from tests.api.apihelp import bearer, decision_body, new_key, put, tx

pytestmark = pytest.mark.services

BAD_JSON = {"content": b'{"event_id": ', "headers": {"Content-Type": "application/json"}}
PROTECTED_POSTS = ["/v1/labels", "/v1/score", "/v1/keys", "/v1/rules/validate", "/v1/reviews/e1/close"]


@pytest.mark.parametrize("path", PROTECTED_POSTS)
def test_without_a_key_a_malformed_body_is_401_not_422(client, path):
    got = client.post(path, **BAD_JSON)
    assert got.status_code == 401, got.text
    assert "missing API key" in got.json()["detail"]
    wrong = client.post(path, content=b"{", headers={"Content-Type": "application/json", **bearer("rwk_x")})
    assert wrong.status_code == 401


def test_with_a_key_the_same_body_is_still_422_and_the_limit_is_charged_once(client, api_settings):
    _, secret = new_key(api_settings, "admin")
    headers = {"Content-Type": "application/json", **bearer(secret)}
    got = client.post("/v1/keys", content=b"{", headers=headers)
    assert got.status_code == 422
    bucket = f"rw:{{api}}:ratelimit:{secret.split('_')[1]}"
    tokens = redis.Redis.from_url(api_settings.redis).hget(bucket, "tokens")
    assert tokens is not None and float(tokens) == pytest.approx(api_settings.api_rate_burst - 1, abs=0.5)


def test_a_hash_planted_in_redis_does_not_make_a_key(client, redis_client: redis.Redis):
    """Write access to Redis alone: the bare SHA-256 that used to be checked is refused."""
    key_id, secret = "00000000000000aa", "rwk_00000000000000aa_" + "A" * 43
    redis_client.hset(
        api_key(key_id), mapping={"sha256": hashlib.sha256(secret.encode()).hexdigest(), "role": "admin"}
    )
    assert client.get("/v1/keys", headers=bearer(secret)).status_code == 401
    # Nor does an `hmac` field computed without the server's pepper.
    redis_client.hset(api_key(key_id), "hmac", hashlib.sha256(secret.encode()).hexdigest())
    assert client.get("/v1/keys", headers=bearer(secret)).status_code == 401


def test_keys_stored_before_the_pepper_are_migrated_and_keep_working(api_settings, redis_client):
    key_id, secret = "00000000000000bb", "rwk_00000000000000bb_" + "B" * 43
    redis_client.hset(
        api_key(key_id),
        mapping={
            "sha256": hashlib.sha256(secret.encode()).hexdigest(),
            "role": "admin",
            "account": "",
            "name": "old",
            "created_at": "2026-01-01T00:00:00Z",
            "created_by": "cli",
        },
    )
    redis_client.zadd(API_KEYS_INDEX, {key_id: int(time.time() * 1000)})
    with TestClient(create_app(api_settings)) as c:
        assert c.get("/v1/keys", headers=bearer(secret)).status_code == 200
    stored = redis_client.hgetall(api_key(key_id))
    assert b"sha256" not in stored and len(stored[b"hmac"]) == 64


def test_another_pepper_refuses_the_keys(api_settings):
    _, secret = new_key(api_settings, "admin")
    other = api_settings.model_copy(update={"api_key_pepper": SecretStr("another pepper")})
    with TestClient(create_app(other)) as c:
        assert c.get("/v1/keys", headers=bearer(secret)).status_code == 401
    with TestClient(create_app(api_settings)) as c:
        assert c.get("/v1/keys", headers=bearer(secret)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/rules/validate", {"text": "review if :amount: > 1000"}),
        ("GET", "/v1/models", None),
        ("GET", "/v1/models/current", None),
        ("GET", "/v1/rules", None),
    ],
)
def test_an_account_bound_admin_cannot_use_the_global_routes(client, key, method, path, body):
    got = client.request(method, path, headers=key("admin", "acme"), json=body)
    assert got.status_code == 403, got.text
    assert client.request(method, path, headers=key("admin"), json=body).status_code in (200, 503)


@pytest.mark.parametrize("version", ["..", ".hidden", "-x", "_x"])
def test_model_versions_must_start_with_a_letter_or_digit(client, key, version):
    got = client.post(f"/v1/models/{version}/promote", headers=key("admin"))
    assert got.status_code in (404, 422), got.text  # ".." is resolved away by the URL itself
    assert got.status_code == 422 or version == ".."


def test_model_errors_show_no_server_path(client, key, api_settings):
    got = client.post("/v1/models/nope/promote", headers=key("admin"))
    assert got.status_code == 404
    assert str(api_settings.model_dir) not in got.text and "/" not in got.json()["detail"]


def test_labels_with_extra_fields_are_refused(client, key):
    label = {"event_id": "e1", "label": "fraud", "reported_at": "2026-02-01T00:00:00Z", "source": "manual"}
    got = client.post("/v1/labels", headers=key("service"), json={**label, "tenant": "globex"})
    assert got.status_code == 422
    assert "tenant" in got.json()["detail"]
    # account_id is a Label field (events are (account, event id)): a key bound to one
    # account cannot label another account's payment with it.
    theirs = client.post("/v1/labels", headers=key("service", "acme"), json={**label, "account_id": "globex"})
    assert theirs.status_code == 404


def test_a_service_keys_label_writes_are_audited(client, key, api_settings):
    store_headers = key("service")
    label = {"event_id": "e-aud", "label": "fraud", "reported_at": "2026-02-01T00:00:00Z", "source": "manual"}
    assert client.post("/v1/labels", headers=store_headers, json=label).status_code == 202
    entries = client.get("/v1/audit", headers=key("admin")).json()["items"]
    published = [e for e in entries if e["action"] == "labels.publish"]
    assert published and published[0]["role"] == "service"
    assert "e-aud" in str(published[0])


def test_the_last_unbound_admin_key_cannot_be_revoked_through_the_api(client, api_settings):
    first_id, first = new_key(api_settings, "admin")
    new_key(api_settings, "admin", "acme")  # bound to an account: does not count
    got = client.post(f"/v1/keys/{first_id}/revoke", headers=bearer(first))
    assert got.status_code == 409 and "last unbound admin" in got.json()["detail"]
    assert client.get("/v1/keys", headers=bearer(first)).status_code == 200
    second_id, second = new_key(api_settings, "admin")
    assert client.post(f"/v1/keys/{first_id}/revoke", headers=bearer(second)).status_code == 200
    assert client.post(f"/v1/keys/{second_id}/revoke", headers=bearer(second)).status_code == 409


def test_decision_lookups_still_work_with_auth_first(client, key, api_settings):
    """The route class keeps dependencies working: a key's account still scopes what it sees."""
    put(api_settings, [(tx("e-auth", account="acme"), decision_body("e-auth"))])
    assert client.get("/v1/decisions/e-auth", headers=key("analyst", "acme")).status_code == 200
    assert client.get("/v1/decisions/e-auth", headers=key("analyst", "globex")).status_code == 404


def test_access_logs_drop_query_strings(api_settings):
    """A real uvicorn, configured as `riskwire api` runs it: the access line has no query."""
    import logging
    import threading

    import httpx
    import uvicorn

    from embedded import free_port

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(api_settings), host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        logging.getLogger("uvicorn.access").addHandler(keep := Keep())
        got = httpx.get(f"http://127.0.0.1:{port}/v1/decisions?card_id=card-secret-42&email=a@b.c")
        assert got.status_code == 401
    finally:
        server.should_exit = True
        thread.join(10)
        logging.getLogger("uvicorn.access").removeHandler(keep)
    assert any("GET /v1/decisions HTTP/1.1" in line for line in lines), lines
    assert not any("card-secret-42" in line or "a@b.c" in line for line in lines)


def test_review_notes_are_sealed_at_rest_and_read_in_clear(api_settings, redis_client):
    import base64
    import os

    from tests.api.apihelp import create_topic

    sealed_settings = api_settings.model_copy(
        update={"at_rest_keys": SecretStr("k1:" + base64.b64encode(os.urandom(32)).decode())}
    )
    create_topic(api_settings.bootstrap, api_settings.topic_labels)
    put(
        api_settings, [(tx("rv1", account="acme"), decision_body("rv1", decision="review", level="elevated"))]
    )
    analyst = bearer(new_key(api_settings, "analyst", "acme")[1])
    with TestClient(create_app(sealed_settings)) as c:
        closed = c.post(
            "/v1/reviews/rv1/close", headers=analyst, json={"outcome": "fraud", "note": "card stolen"}
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["note"] == "card stolen"
        listed = c.get("/v1/reviews", headers=analyst, params={"status": "closed"}).json()["items"]
        assert [i["note"] for i in listed] == ["card stolen"]
    stored = redis_client.hget("rw:{api}:review:acme:rv1", "note")
    assert stored is not None and stored.startswith(b"rwe1:k1:") and b"stolen" not in stored
    # Without the key the API cannot read it (and says so, rather than serve ciphertext).
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as c:
        got = c.get("/v1/reviews", headers=analyst, params={"status": "closed"})
        assert got.status_code == 503 and "RISKWIRE_AT_REST_KEYS" in got.json()["detail"]
        assert "rwe1" not in got.text
