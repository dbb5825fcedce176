"""Operations and limits: /readyz, /metrics, the body cap (413), the per-key rate limit (429),
and an OpenAPI document whose every response has a schema, errors all ``{"detail": ...}``."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.main import create_app
from contracts.settings import Settings
from embedded import free_port
from tests.api.apihelp import bearer, decision_body, new_key, put, tx

pytestmark = pytest.mark.services


def test_readyz_says_whether_redis_and_kafka_are_reachable(client, api_settings):
    ready = client.get("/readyz").json()
    assert ready == {"status": "ready", "redis": True, "kafka": True, "model": ready["model"]}
    assert ready["model"]
    for broken, name in [
        ({"kafka_bootstrap": f"127.0.0.1:{free_port()}"}, "kafka"),
        ({"redis_url": f"redis://127.0.0.1:{free_port()}/0"}, "redis"),
    ]:
        settings = api_settings.model_copy(update={**broken, "api_probe_timeout_s": 0.5})
        with TestClient(create_app(settings)) as c:
            got = c.get("/readyz")
            assert got.status_code == 503
            assert got.json() == {"detail": f"not ready: {name} unreachable"}
            assert c.get("/healthz").status_code == 200
            if name == "redis":
                down = c.get("/v1/decisions/x", headers=bearer("rwk_0123456789abcdef_" + "A" * 43))
                assert (down.status_code, down.json()) == (503, {"detail": "redis unavailable"})


def test_metrics_count_requests_by_route_template(client, api_settings):
    analyst = bearer(new_key(api_settings, "analyst")[1])
    for i in range(3):
        client.get(f"/v1/decisions/secret-event-{i}", headers=analyst)
    client.get("/v1/decisions/x")
    text = client.get("/metrics").text
    line = 'riskwire_api_requests_total{method="GET",route="/v1/decisions/{event_id}",status="404"} 3.0'
    assert line in text
    assert 'route="/v1/decisions/{event_id}",status="401"} 1.0' in text
    assert "riskwire_api_request_seconds_bucket" in text
    assert "secret-event" not in text


@pytest.fixture()
def small(api_settings) -> Settings:
    return api_settings.model_copy(
        update={"api_max_body_bytes": 1024, "api_rate_per_s": 2.0, "api_rate_burst": 5}
    )


def test_a_declared_body_over_the_cap_is_413_before_anything_else(small):
    with TestClient(create_app(small)) as c:
        service = bearer(new_key(small, "service")[1])
        big = b"[" + b" " * 2000 + b"]"
        for headers in (service, {}):
            got = c.post("/v1/labels", content=big, headers={**headers, "Content-Type": "application/json"})
            assert got.status_code == 413 and got.json() == {"detail": "request body over 1024 bytes"}
        ok = c.post("/v1/labels", json=[], headers=service)
        assert ok.status_code == 422  # under the cap: validated as usual
        assert 'status="413"} 2.0' in c.get("/metrics").text


@pytest.fixture()
def server(small) -> Iterator[int]:
    """The app under a real uvicorn, for a streamed upload."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(small), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    yield port
    srv.should_exit = True
    thread.join(10)


def test_a_streamed_body_is_cut_off_at_the_cap_without_being_read_whole(small, server):
    secret = new_key(small, "service")[1]
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/labels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + secret.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"[" + b" " * 510
        sent = 0
        for _ in range(3):  # 1,536 bytes: over the cap; the body never ends
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            part = sock.recv(4096)
            if not part:
                break
            answer += part
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert answer.endswith(b'{"detail":"request body over 1024 bytes"}')
    assert sent < 2048


def test_more_than_the_rate_per_key_is_429_with_retry_after_shared_by_processes(small):
    secret = new_key(small, "analyst")[1]
    other = bearer(new_key(small, "analyst")[1])
    with TestClient(create_app(small)) as a, TestClient(create_app(small)) as b:
        codes = [c.get("/v1/decisions/x", headers=bearer(secret)).status_code for c in (a, b, a, b, a)]
        assert codes == [404] * 5  # the burst, spent across two API instances
        limited = b.get("/v1/decisions/x", headers=bearer(secret))
        assert limited.status_code == 429
        assert limited.json()["detail"].startswith("rate limit exceeded")
        wait = int(limited.headers["Retry-After"])
        assert 1 <= wait <= 1
        assert a.get("/v1/decisions/x", headers=other).status_code == 404  # other keys are unaffected
        time.sleep(0.55)  # 2/s: one token back
        assert a.get("/v1/decisions/x", headers=bearer(secret)).status_code == 404
        assert a.get("/v1/decisions/x", headers=bearer(secret)).status_code == 429
        assert "429" in a.get("/metrics").text


def test_every_response_in_the_openapi_document_has_a_schema_and_errors_share_one(client):
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    seen = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (method, path)
            for status, response in op["responses"].items():
                content = response.get("content")
                assert content, (method, path, status)
                for media in content.values():
                    assert media.get("schema"), (method, path, status)
                if status[0] in "45":
                    assert content == {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    }
                seen += 1
            if path.startswith("/v1/"):
                assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
    assert seen > 40


def test_framework_errors_use_the_same_body(client, api_settings):
    assert client.get("/nope").json() == {"detail": "Not Found"}
    assert client.delete("/healthz").json() == {"detail": "Method Not Allowed"}
    service = bearer(new_key(api_settings, "service")[1])
    bad = client.post(
        "/v1/labels", content=b"{not json", headers={**service, "Content-Type": "application/json"}
    )
    assert bad.status_code == 422 and re.match(r"body\.\d+: JSON decode error", bad.json()["detail"])


def test_decision_lookups_are_fast_enough(client, api_settings):
    put(api_settings, [(tx(f"p{i}"), decision_body(f"p{i}")) for i in range(50)])
    analyst = bearer(new_key(api_settings, "analyst")[1])
    started = time.perf_counter()
    for i in range(200):
        assert client.get(f"/v1/decisions/p{i % 50}", headers=analyst).status_code == 200
    assert (time.perf_counter() - started) / 200 < 0.05
