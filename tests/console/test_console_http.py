"""The console's session and safety rules over plain HTTP (real Redis and Kafka, no browser)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from api.console.session import COOKIE, csrf_token
from api.main import create_app
from contracts.settings import Settings
from store.key_admin import create_key

pytestmark = pytest.mark.services
HTML = {"accept": "text/html"}


@pytest.fixture()
def app_and_keys(services, redis_client, model_dir):
    settings = Settings(
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        topic_labels=f"labels-{uuid.uuid4().hex[:10]}",
        model_dir=model_dir,
    )
    keys = {role: create_key(settings, role, None, f"http-{role}")[1] for role in ("analyst", "admin")}
    with TestClient(create_app(settings), base_url="http://testserver", follow_redirects=False) as client:
        yield client, keys


def test_root_and_pages_without_a_key_lead_to_sign_in(app_and_keys):
    client, _ = app_and_keys
    assert client.get("/").headers["location"] == "/ui/payments"
    got = client.get("/ui/reviews?status=open", headers=HTML)
    assert got.status_code == 303
    assert got.headers["location"].startswith("/ui/signin?next=%2Fui%2Freviews%3Fstatus%3Dopen")
    assert client.get("/ui/signin").status_code == 200


def test_sign_in_sets_a_strict_http_only_cookie_and_never_redirects_off_site(app_and_keys):
    client, keys = app_and_keys
    got = client.post("/ui/signin", data={"key": keys["analyst"], "next": "https://evil.example/x"})
    assert got.status_code == 303 and got.headers["location"] == "/ui/payments"
    cookie = got.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/ui" in cookie and "Secure" not in cookie, "Secure only over HTTPS"
    refused = client.post("/ui/signin", data={"key": "rwk_0123456789abcdef_" + "x" * 30})
    assert refused.status_code == 401 and "not valid" in refused.text
    elsewhere = client.post(
        "/ui/signin", data={"key": keys["analyst"]}, headers={"origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403 and COOKIE not in elsewhere.headers.get("set-cookie", "")


def test_state_changes_need_the_csrf_token_and_roles_are_the_apis(app_and_keys):
    client, keys = app_and_keys
    client.cookies.set(COOKIE, keys["analyst"], path="/ui")
    assert client.get("/ui/payments", headers=HTML).status_code == 200
    forged = client.post("/ui/signout", data={"csrf": "0" * 32}, headers=HTML)
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert client.get("/ui/models", headers=HTML).status_code == 403, "models need an admin key"
    client.cookies.set(COOKIE, keys["admin"], path="/ui")
    no_token = client.post("/ui/rules/validate", json={"text": "block if :amount: > 5"})
    assert no_token.status_code == 403 and no_token.json()["detail"].startswith("the form's CSRF token")
    ok = client.post(
        "/ui/rules/validate",
        json={"text": "block if :amount: > 5"},
        headers={"x-csrf-token": csrf_token(keys["admin"])},
    )
    assert ok.json() == {"valid": True, "action": "block"}
    out = client.post("/ui/signout", data={"csrf": csrf_token(keys["admin"])})
    assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]


def test_the_json_api_keeps_its_json_errors(app_and_keys):
    client, _ = app_and_keys
    got = client.get("/v1/decisions/x", headers=HTML)
    assert got.status_code == 401 and got.json()["detail"].startswith("missing API key")
