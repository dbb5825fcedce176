"""Rules and lists through the API: validation with positions, changes, history, backtest."""

from __future__ import annotations

import random

from store.layout import review_key
from tests.api.apihelp import decision_body, put, ref, tx


def test_validate_reports_the_position_of_the_error(client, key):
    admin = key("admin")
    ok = client.post("/v1/rules/validate", headers=admin, json={"text": "review if :amount: > 1000"})
    assert ok.json() == {"valid": True, "action": "review"}
    bad = client.post("/v1/rules/validate", headers=admin, json={"text": "review if :amonut: > 1000"})
    assert bad.status_code == 422
    assert "at position 10" in bad.json()["detail"] and "^" in bad.json()["detail"]
    unknown_list = client.post(
        "/v1/rules/validate", headers=admin, json={"text": "allow if :card_id: in @vip"}
    )
    assert unknown_list.status_code == 422 and "vip" in unknown_list.json()["detail"]


def test_create_toggle_delete_lists_and_history(client, key):
    admin = key("admin")
    made = client.post("/v1/lists/vip/items", headers=admin, json={"add": ["card-1", "card-2"]})
    assert made.status_code == 200
    rule = client.post("/v1/rules", headers=admin, json={"text": "allow if :card_id: in @vip"})
    assert rule.status_code == 201
    rule_id, v1 = rule.json()["id"], rule.json()["version"]
    listed = client.get("/v1/rules", headers=admin).json()
    assert listed["lists"] == {"vip": ["card-1", "card-2"]}
    assert [(r["id"], r["enabled"]) for r in listed["rules"]] == [(rule_id, True)]
    off = client.post(f"/v1/rules/{rule_id}/disable", headers=admin).json()
    assert off["version"] > v1
    assert client.get("/v1/rules", headers=admin).json()["rules"][0]["enabled"] is False
    assert client.post(f"/v1/rules/{rule_id}/enable", headers=admin).status_code == 200
    assert client.delete(f"/v1/rules/{rule_id}", headers=admin).status_code == 200
    assert client.delete(f"/v1/rules/{rule_id}", headers=admin).status_code == 404
    ops = [h["op"] for h in client.get("/v1/rules/history", headers=admin).json()]
    assert ops[:4] == ["delete", "enable", "disable", "create"]
    assert (
        client.post(
            "/v1/rules", headers=key("admin", "acme"), json={"text": "block if :amount: > 1"}
        ).status_code
        == 403
    )
    audit = [e["action"] for e in client.get("/v1/audit", headers=admin).json()["items"]]
    assert {"rules.create", "rules.disable", "rules.delete", "lists.change"} <= set(audit)


def test_backtest_counts_equal_a_direct_computation(client, key, api_settings, redis_client):
    rng = random.Random(3)
    stored = []
    for i in range(300):
        score = rng.randrange(0, 100)
        event_id = f"bt{i}"
        stored.append((event_id, score, f"card-{i % 7}"))
    put(api_settings, [(tx(e, card=c), decision_body(e, score=s, card=c)) for e, s, c in stored])
    labels = {}
    for event_id, _, _ in rng.sample(stored, 80):
        labels[event_id] = rng.choice(["fraud", "legit"])
        redis_client.hset(
            review_key(ref(event_id)), mapping={"status": "closed", "outcome": labels[event_id]}
        )

    text = "block if :risk_score: >= 70 and :card_id: != 'card-3'"
    got = client.post("/v1/rules/backtest", headers=key("admin"), json={"text": text}).json()
    matched = [(e, labels.get(e)) for e, s, c in stored if s >= 70 and c != "card-3"]
    assert got["decisions_scanned"] == len(stored)
    assert got["matched_fraud"] == sum(label == "fraud" for _, label in matched)
    assert got["matched_legit"] == sum(label == "legit" for _, label in matched)
    assert got["matched_unlabelled"] == sum(label is None for _, label in matched)
    assert got["total_fraud"] == sum(v == "fraud" for v in labels.values())
    assert set(got["examples_fraud"]) <= {e for e, label in matched if label == "fraud"}
