"""The default rules pack: the textbook cold-start signs go to review, added to the stored rules."""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis

from embedded import EmbeddedServices
from pipeline.live_rules import LiveRules
from rules.attributes import rule_values
from rules.default_pack import DEFAULT_RULES, default_pack, default_rules
from store.rules import RuleStore

TX = {"event_id": "e1", "amount": 700.0, "card_id": "c1"}


def test_the_issues_cold_start_payment_goes_to_review() -> None:
    # 70.9x the card's average, from an IP country other than the card's, on a new device.
    features = {
        "amount_to_card_avg_30d": 70.9,
        "card_count_30d": 12.0,
        "card_ip_country_mismatch": 1.0,
        "device_count_30d": 0.0,
    }
    action, matched = default_pack().decide(rule_values(TX, features), {})
    assert action == "review" and matched == list(DEFAULT_RULES[:2])


def test_card_testing_and_an_ordinary_payment() -> None:
    testing = {"card_count_10m": 6.0, "card_count_30d": 6.0}
    assert default_pack().decide(rule_values({**TX, "amount": 0.99}, testing), {})[0] == "review"
    usual = {"amount_to_card_avg_30d": 1.1, "card_count_30d": 40.0, "card_ip_country_mismatch": 0.0}
    assert default_pack().decide(rule_values({**TX, "amount": 30.0}, usual), {}) == (None, [])


def test_the_pack_joins_the_stored_rules_in_radars_order(
    services: EmbeddedServices, redis_client: redis.Redis
) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(services.redis_url)
        try:
            store = RuleStore(client)
            await store.create_rule("allow if :card_id: == 'c1'")
            live = LiveRules(store, extra=default_rules())
            await live.refresh()
            features = {"amount_to_card_avg_30d": 70.9, "card_count_30d": 12.0}
            action, matched = live.decide(rule_values(TX, features))
            # A stored allow beats the pack's review; both are recorded.
            assert action == "allow" and matched == ["allow if :card_id: == 'c1'", DEFAULT_RULES[0]]
        finally:
            await client.aclose()

    asyncio.run(main())
