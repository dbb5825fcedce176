"""The analyst console in a real headless Chromium (Debian's), against a real API server."""

from __future__ import annotations

import json
import re

import pytest

from tests.console.browsing import REVIEW_RULE, shot, sign_in
from tests.kafka_io import read_topic

pytestmark = pytest.mark.services


def test_sign_in_filter_open_a_payment_with_the_apis_reasons_and_sign_out(page, console):
    page.goto(console.url + "/")
    assert "/ui/signin" in page.url, "the console asks for a key first"
    shot(page, "signin")
    sign_in(page, console, "analyst_a")
    shot(page, "payments")
    rows = page.locator("#payments tbody tr")
    assert rows.count() == 25, "one page of the 30 stored acme payments"
    assert page.locator(".histogram figcaption").inner_text().startswith("Risk scores of 30 ")

    page.select_option("select[name=decision]", "review")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**decision=review**")
    shown = [t.strip() for t in page.locator("#payments tbody tr td:first-child").all_inner_texts()]
    with console.api("analyst_a") as api:
        expected = [
            r["event_id"] for r in api.get("/v1/decisions", params={"decision": "review"}).json()["items"]
        ]
    assert shown == expected and len(shown) == 12, "the filter gives what the API gives"
    assert "Risk scores of 12 " in page.locator(".histogram figcaption").inner_text()

    page.goto(f"{console.url}/ui/payments?rule=amount:+>+400")  # rule matched: a post-filter
    assert page.locator("#payments tbody tr").count() == 12
    with console.api("analyst_a") as api:
        version = api.get("/v1/decisions/a00").json()["model"]["batch_version"]
    page.goto(f"{console.url}/ui/payments?decision=review&model=no-such-version")
    assert page.locator("#payments tbody").inner_text().strip() == "No payments match."
    page.goto(f"{console.url}/ui/payments?decision=review&model={version}")
    assert page.locator("#payments tbody tr").count() == 12
    page.fill("input[name=since]", "2099-01-01T00:00:00")  # the time range: nothing that late
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**since=2099**")
    assert page.locator("#payments tbody").inner_text().strip() == "No payments match."
    page.go_back()
    page.wait_for_url(lambda url: "decision=review" in url and "2099" not in url)
    page.keyboard.press("Tab")  # the first stop is the skip link, visibly focused
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.click(f"#payments a:text-is('{shown[0]}')")
    page.wait_for_url(f"**/ui/payments/{shown[0]}")
    shot(page, "payment")
    with console.api("analyst_a") as api:
        record = api.get(f"/v1/decisions/{shown[0]}").json()
    reasons = page.locator("#reasons li.reason")
    assert reasons.count() == len(record["reasons"]) > 0
    for i, reason in enumerate(record["reasons"]):
        item = reasons.nth(i)
        assert item.get_attribute("data-feature") == reason["feature"]
        assert float(item.get_attribute("data-contribution")) == pytest.approx(
            reason["contribution"], abs=1e-4
        )
        assert reason["text"] in item.inner_text()
    assert REVIEW_RULE in page.locator("main").inner_text(), "the rule it matched"
    assert record["model"]["batch_version"] in page.locator("main").inner_text()

    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "payment-390px")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("text=Sign out")
    page.wait_for_url("**/ui/signin**")
    page.goto(console.url + "/ui/payments")
    assert "/ui/signin" in page.url, "signed out: the pages ask for a key again"
    cookies = page.context.cookies()
    assert not [c for c in cookies if c["name"] == "rw_console"]


def test_close_a_review_as_fraud_from_the_queue_by_keyboard_publishes_the_label(page, console):
    sign_in(page, console, "analyst_a")
    page.click("nav >> text=Reviews")
    page.wait_for_url("**/ui/reviews")
    shot(page, "reviews")
    queue = page.locator("li.review")
    assert queue.count() == 12
    first = queue.nth(0).get_attribute("data-event")
    assert first == "a02", "oldest first"
    page.keyboard.press("j")  # focus the first review
    page.keyboard.press("a")  # assign it to me
    page.wait_for_url("**done=**")
    assert "assigned to you" in page.locator(".flash").inner_text()
    page.click("nav.tabs >> text=assigned")
    page.wait_for_url("**status=assigned**")
    assert page.locator("li.review").first.get_attribute("data-event") == first
    page.keyboard.press("j")
    page.keyboard.press("f")  # close as fraud
    page.wait_for_url("**done=**")
    assert "closed as fraud; label published" in page.locator(".flash").inner_text()
    messages = read_topic(
        console.settings.bootstrap, console.settings.topic_labels, 1, until=lambda m: len(m) >= 1, timeout=20
    )
    labels = [json.loads(m.value()) for m in messages]
    assert [(lab["event_id"], lab["label"], lab["source"]) for lab in labels] == [(first, "fraud", "review")]
    page.goto(f"{console.url}/ui/payments/{first}")
    assert page.locator("#review-status").inner_text() == "closed"
    assert "fraud" in page.locator("#label-now").inner_text()


def test_rule_editor_shows_the_syntax_error_at_its_position_and_a_backtest_counts(page, console):
    sign_in(page, console, "admin")
    with console.api("admin") as api:
        # A labelled hit: one of the review-band payments closed as legit through the API.
        assert api.post("/v1/reviews/a04/close", json={"outcome": "legit"}).status_code == 200
    page.goto(console.url + "/ui/payments/a04")
    history = page.locator("#label-history").inner_text()
    assert "review.close" in history and "legit" in history, "an admin sees the label history"
    page.goto(console.url + "/ui/rules")
    bad = "block if :amout: > 5"
    page.fill("#rule-text", bad)
    error = page.locator("#rule-status p.error")
    error.wait_for()
    with console.api("admin") as api:
        detail = api.post("/v1/rules/validate", json={"text": bad}).json()["detail"]
    position = int(re.search(r"at position (\d+)", detail).group(1))
    assert error.get_attribute("data-position") == str(position) == "9"
    caret = page.locator("#rule-status pre.caret").inner_text().split("\n")
    assert caret[1].index("^") == position and caret[0][position:].startswith(":amout:")
    shot(page, "rule-error")

    page.fill("#rule-text", "review if :amount: > 900")
    page.locator("#rule-status p.ok").wait_for()
    page.click("#backtest")
    page.locator("#backtest-result").wait_for()
    # 6 acme payments of 990 and the 4 globex ones of 720+ are stored: 6 hits, one labelled legit.
    with console.api("admin") as api:
        expected = api.post("/v1/rules/backtest", json={"text": "review if :amount: > 900"}).json()
    hits = expected["matched_fraud"] + expected["matched_legit"] + expected["matched_unlabelled"]
    assert page.locator("#bt-hits").inner_text() == str(hits) == "6"
    assert page.locator("#bt-labelled").inner_text() == "1"
    assert page.locator("#bt-fraud").inner_text() == str(expected["matched_fraud"]) == "0"
    shot(page, "rules")
    page.click("#save")
    page.wait_for_url("**/ui/rules?done=**")
    assert "review if :amount: > 900" in page.locator("#rules").inner_text()


def test_promote_a_model_then_roll_back(page, console):
    sign_in(page, console, "admin")
    page.goto(console.url + "/ui/models")
    before = page.locator("#current-version").inner_text()
    assert before != "v2-candidate"
    page.click("#model-v2-candidate button.promote")  # confirmed in the dialog
    page.wait_for_url("**/ui/models?done=**")
    assert page.locator("#current-version").inner_text() == "v2-candidate"
    with console.api("admin") as api:
        assert api.get("/v1/models").json()["current"] == "v2-candidate"
    shot(page, "models")
    page.click("#rollback")
    page.wait_for_url("**rolled**")
    assert page.locator("#current-version").inner_text() == before
    with console.api("admin") as api:
        assert api.get("/v1/models").json()["current"] == before
    page.goto(console.url + "/ui/audit?action=models")
    actions = page.locator("#audit tbody tr td:nth-child(5)").all_inner_texts()
    assert actions == ["models.rollback", "models.promote"]
    shot(page, "audit")


def test_an_account_a_key_cannot_see_account_b_and_a_revoked_key_is_signed_out(page, console):
    sign_in(page, console, "analyst_a")
    shown = page.locator("#payments tbody tr td:first-child").all_inner_texts()
    assert shown and all(t.strip().startswith("a") for t in shown)
    response = page.goto(f"{console.url}/ui/payments/{console.ids['globex'][0]}")
    assert response.status == 404
    assert "no decision for event_id" in page.locator(".error").inner_text()
    response = page.goto(f"{console.url}/ui/payments/{console.ids['acme'][0]}")
    assert response.status == 200
    response = page.goto(f"{console.url}/ui/rules")
    assert response.status == 403, "rules need an admin key"
    # Forged state change without the CSRF token: refused.
    forged = page.request.post(f"{console.url}/ui/reviews/a02/assign", form={"back": "/ui/reviews"})
    assert forged.status == 403
    with console.api("admin") as api:
        key_id = console.keys["analyst_a"].split("_")[1]
        assert api.post(f"/v1/keys/{key_id}/revoke").status_code == 200
    page.goto(console.url + "/ui/payments")
    assert "/ui/signin" in page.url and "revoked" in page.locator(".error").inner_text()
