"""The models endpoints: list, current blend, promote, roll back; audited; global admins only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app


@pytest.fixture()
def models_client(api_settings, candidate_registry):
    reg = candidate_registry
    first = next(v for v in reg.versions() if v != "v2-candidate")
    settings = api_settings.model_copy(update={"model_dir": reg.root})
    with TestClient(create_app(settings)) as c:
        yield c, reg, first


def test_list_promote_rollback_and_audit(models_client, key):
    client, reg, first = models_client
    admin = key("admin")
    listed = client.get("/v1/models", headers=admin).json()
    assert listed["current"] == first
    assert {i["version"] for i in listed["items"]} == {first, "v2-candidate"}
    assert all("metrics" in i["manifest"] for i in listed["items"])
    blend = client.get("/v1/models/current", headers=admin).json()
    assert blend["batch_version"] == first and blend["batch_weight"] == 1.0 and not blend["drift"]["detected"]
    # The review-capacity policy the model was trained with (issue 12), as on its card.
    card = reg.load(first).manifest["decision_policy"]
    assert blend["decision_policy"] == card and card["review_from"] <= card["block_from"]

    promoted = client.post("/v1/models/v2-candidate/promote", headers=admin)
    assert promoted.json() == {"current": "v2-candidate", "previous": first}
    assert reg.current() == "v2-candidate"
    back = client.post("/v1/models/rollback", headers=admin)
    assert back.json() == {"current": first, "previous": "v2-candidate"}
    audit = client.get("/v1/audit", headers=admin).json()
    actions = [e["action"] for e in audit["items"]]
    assert "models.promote" in actions and "models.rollback" in actions

    assert client.post("/v1/models/nope/promote", headers=admin).status_code == 404
    assert client.post("/v1/models/v2-candidate/promote", headers=key("admin", "acme")).status_code == 403


def test_shadow_start_stop_and_the_blend_shows_it(models_client, key):
    client, reg, first = models_client
    admin = key("admin")
    started = client.post("/v1/models/v2-candidate/shadow", headers=admin)
    assert started.status_code == 200 and started.json() == {"shadow": "v2-candidate", "previous": None}
    assert reg.shadow() == "v2-candidate" and reg.current() == first  # shadow never becomes current
    blend = client.get("/v1/models/current", headers=admin).json()
    assert blend["shadow_version"] == "v2-candidate"
    assert blend["online_version"] is None and blend["online_learned"] == 0  # nothing learned yet
    assert client.post("/v1/models/nope/shadow", headers=admin).status_code == 404
    assert client.post("/v1/models/v2-candidate/shadow", headers=key("admin", "acme")).status_code == 403
    stopped = client.delete("/v1/models/shadow", headers=admin)
    assert stopped.json() == {"shadow": None, "previous": "v2-candidate"} and reg.shadow() is None
    actions = [e["action"] for e in client.get("/v1/audit", headers=admin).json()["items"]]
    assert actions.count("models.shadow") == 2
