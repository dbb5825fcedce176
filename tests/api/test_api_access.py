"""Access: 401/403 on every protected route, keys by API and CLI, revocation, the audit log."""

from __future__ import annotations

import re

import pytest
import redis
from click.testing import CliRunner

from api.main import create_app
from cli.keys import keys as keys_cli
from store.key_hash import key_pepper, stored_digest
from tests.api.apihelp import bearer, new_key

pytestmark = pytest.mark.services

OPEN = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
ANALYST = {"analyst", "admin"}
SERVICE = {"service", "admin"}
ADMIN = {"admin"}
# Every protected route and the roles that may call it. A new route must be added here.
ROUTE_ROLES: dict[tuple[str, str], set[str]] = {
    ("GET", "/v1/decisions/{event_id}"): ANALYST,
    ("GET", "/v1/decisions/{event_id}/explanation"): ANALYST,
    ("GET", "/v1/decisions"): ANALYST,
    ("GET", "/v1/reviews"): ANALYST,
    ("POST", "/v1/reviews/{event_id}/assign"): ANALYST,
    ("POST", "/v1/reviews/{event_id}/close"): ANALYST,
    ("POST", "/v1/labels"): SERVICE,
    ("POST", "/v1/score"): SERVICE,
    ("GET", "/v1/models"): ADMIN,
    ("GET", "/v1/models/current"): ADMIN,
    ("POST", "/v1/models/{version}/promote"): ADMIN,
    ("POST", "/v1/models/rollback"): ADMIN,
    ("POST", "/v1/models/{version}/shadow"): ADMIN,
    ("DELETE", "/v1/models/shadow"): ADMIN,
    ("GET", "/v1/rules"): ADMIN,
    ("POST", "/v1/rules"): ADMIN,
    ("POST", "/v1/rules/validate"): ADMIN,
    ("POST", "/v1/rules/{rule_id}/enable"): ADMIN,
    ("POST", "/v1/rules/{rule_id}/disable"): ADMIN,
    ("DELETE", "/v1/rules/{rule_id}"): ADMIN,
    ("GET", "/v1/rules/history"): ADMIN,
    ("POST", "/v1/rules/backtest"): ADMIN,
    ("POST", "/v1/lists/{name}/items"): ADMIN,
    ("GET", "/v1/keys"): ADMIN,
    ("POST", "/v1/keys"): ADMIN,
    ("POST", "/v1/keys/{key_id}/revoke"): ADMIN,
    ("GET", "/v1/audit"): ADMIN,
}
ROLES = ("analyst", "admin", "service")


def app_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app serves, from its OpenAPI document (docs pages aside)."""
    paths = create_app().openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def _url(path: str) -> str:
    return path.replace("{event_id}", "evt-x").replace("{key_id}", "0123456789abcdef")


PROTECTED = sorted(app_routes() - OPEN)


def test_every_route_is_either_open_or_listed_with_its_roles():
    assert set(PROTECTED) == set(ROUTE_ROLES), "list new routes in ROUTE_ROLES (or OPEN)"
    assert app_routes() >= OPEN


@pytest.fixture()
def keys_by_role(api_settings):
    return {role: bearer(new_key(api_settings, role)[1]) for role in ROLES}


@pytest.fixture()
def revoked_key(api_settings, client):
    key_id, secret = new_key(api_settings, "admin")
    admin = bearer(new_key(api_settings, "admin")[1])
    assert client.post(f"/v1/keys/{key_id}/revoke", headers=admin).status_code == 200
    return bearer(secret)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_routes_answer_401_without_a_valid_key_and_403_without_the_role(
    client, keys_by_role, revoked_key, method, path
):
    url = _url(path)
    bad = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer("not-a-key"),
        bearer("rwk_0123456789abcdef_" + "A" * 43),  # well formed, unknown
        revoked_key,
    ]
    for headers in bad:
        got = client.request(method, url, headers=headers, json={} if method == "POST" else None)
        assert got.status_code == 401, (headers, got.text)
        assert set(got.json()) == {"detail"}
        assert got.headers["www-authenticate"] == "Bearer"
    for role in ROLES:
        got = client.request(method, url, headers=keys_by_role[role], json={} if method == "POST" else None)
        if role in ROUTE_ROLES[(method, path)]:
            assert got.status_code not in (401, 403), (role, got.text)
        else:
            assert got.status_code == 403, (role, got.text)
            assert "role" in got.json()["detail"]


def test_open_routes_need_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_keys_are_stored_only_as_peppered_hashes(client, api_settings, redis_client: redis.Redis):
    admin = bearer(new_key(api_settings, "admin")[1])
    made = client.post(
        "/v1/keys", headers=admin, json={"role": "analyst", "account_id": "acme", "name": "ann"}
    )
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert re.fullmatch(r"rwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", secret)
    stored = redis_client.hgetall(f"rw:{{api}}:apikey:{made.json()['id']}")
    assert stored[b"hmac"] == stored_digest(key_pepper(api_settings), secret).encode()
    assert b"sha256" not in stored
    dump = b"".join(redis_client.dump(k) or b"" for k in redis_client.keys("*"))
    assert secret.encode() not in dump and secret.split("_", 2)[2].encode() not in dump
    # The new key works, with its role and account.
    assert client.get("/v1/decisions/nope", headers=bearer(secret)).status_code == 404
    assert client.get("/v1/keys", headers=bearer(secret)).status_code == 403
    listed = client.get("/v1/keys", headers=admin).json()["items"]
    assert {k["id"] for k in listed} >= {made.json()["id"]}
    assert all("secret" not in k and "sha256" not in k for k in listed)


def test_revoked_key_answers_401_at_once_and_revoking_twice_is_409(client, api_settings):
    admin = bearer(new_key(api_settings, "admin")[1])
    key_id, secret = new_key(api_settings, "analyst")
    assert client.get("/v1/decisions/x", headers=bearer(secret)).status_code == 404
    got = client.post(f"/v1/keys/{key_id}/revoke", headers=admin)
    assert got.status_code == 200 and got.json()["revoked_at"]
    assert client.get("/v1/decisions/x", headers=bearer(secret)).status_code == 401
    assert client.post(f"/v1/keys/{key_id}/revoke", headers=admin).status_code == 409
    assert client.post("/v1/keys/ffffffffffffffff/revoke", headers=admin).status_code == 404


def test_a_key_bound_to_an_account_manages_only_that_account(client, api_settings):
    acme_admin = bearer(new_key(api_settings, "admin", "acme")[1])
    other_id, _ = new_key(api_settings, "analyst", "globex")
    assert (
        client.post("/v1/keys", headers=acme_admin, json={"role": "admin", "name": "x"}).json()["account_id"]
        == "acme"
    )
    escalate = client.post(
        "/v1/keys", headers=acme_admin, json={"role": "admin", "account_id": "globex", "name": "x"}
    )
    assert escalate.status_code == 403
    assert {k["account_id"] for k in client.get("/v1/keys", headers=acme_admin).json()["items"]} == {"acme"}
    assert client.post(f"/v1/keys/{other_id}/revoke", headers=acme_admin).status_code == 404
    assert client.get("/v1/audit", headers=acme_admin).status_code == 403


def test_cli_create_list_revoke(api_settings, client, monkeypatch):
    monkeypatch.setenv("RISKWIRE_REDIS_URL", api_settings.redis)
    runner = CliRunner()
    made = runner.invoke(keys_cli, ["create", "--role", "service", "--account", "acme", "--name", "feed"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    key_id = secret.split("_")[1]
    assert client.get("/v1/keys", headers=bearer(secret)).status_code == 403  # valid, wrong role
    listed = runner.invoke(keys_cli, ["list"])
    assert key_id in listed.stdout and "service" in listed.stdout and "acme" in listed.stdout
    assert secret not in listed.stdout
    assert runner.invoke(keys_cli, ["revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(keys_cli, ["list"]).stdout
    assert client.get("/v1/keys", headers=bearer(secret)).status_code == 401
    again = runner.invoke(keys_cli, ["revoke", key_id])
    assert again.exit_code != 0 and "already revoked" in again.output
    assert runner.invoke(keys_cli, ["revoke", "ffffffffffffffff"]).exit_code != 0


def test_changes_are_in_the_audit_log_with_who_what_when_before_after(client, api_settings):
    admin_id, admin_secret = new_key(api_settings, "admin")
    admin = bearer(admin_secret)
    made = client.post("/v1/keys", headers=admin, json={"role": "analyst", "name": "ann"}).json()
    client.post(f"/v1/keys/{made['id']}/revoke", headers=admin)
    page = client.get("/v1/audit", headers=admin, params={"limit": 2})
    assert page.status_code == 200, page.text
    revoke, create = page.json()["items"]
    assert (revoke["action"], revoke["who"], revoke["target"]) == ("key.revoke", admin_id, made["id"])
    assert revoke["before"]["revoked_at"] is None and revoke["after"]["revoked_at"]
    assert (create["action"], create["who"], create["before"]) == ("key.create", admin_id, None)
    assert create["after"] == {
        "id": made["id"],
        "role": "analyst",
        "account": None,
        "name": "ann",
        "revoked_at": None,
    }
    assert "sha256" not in str(page.json())
    rest = client.get("/v1/audit", headers=admin, params={"cursor": page.json()["next_cursor"]}).json()
    # The CLI-made admin key is the oldest entry.
    assert [e["action"] for e in rest["items"]] == ["key.create"] and rest["items"][0]["who"] == "cli"
    assert rest["next_cursor"] is None
