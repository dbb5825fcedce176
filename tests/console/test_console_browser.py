"""The analyst console in a real headless Chromium (Debian's), against a real API server."""

from __future__ import annotations

import pytest

from tests.console.browsing import REVIEW_RULE, shot, sign_in

pytestmark = pytest.mark.services


def test_sign_in_filter_open_a_payment_with_the_apis_reasons_and_sign_out(page, console):
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
