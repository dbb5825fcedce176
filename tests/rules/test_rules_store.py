"""RuleStore and LiveRules against the session's real Redis (db 0, flushed per test)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from embedded import EmbeddedServices
from pipeline.live_rules import LiveRules
from rules import RuleSyntaxError
from rules.compiler import compile_rule
from store.rules import RuleStore

Body = Callable[[RuleStore], Awaitable[None]]


def run(services: EmbeddedServices, body: Body, **client_options: Any) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(services.redis_url, **client_options)
        try:
            await body(RuleStore(client))
        finally:
            await client.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("decode", [False, True])
def test_versions_history_and_load(
    services: EmbeddedServices, redis_client: redis.Redis, decode: bool
) -> None:
    async def body(store: RuleStore) -> None:
        assert await store.version() == 0
        version, rules, lists = await store.load()
        assert (version, len(rules), lists) == (0, 0, {})

        assert await store.add_list_items("trusted_cards", ["c1", "c2"], who="ana") == 1
        allow_id, v = await store.create_rule("allow if :card_id: in @trusted_cards", who="ana")
        assert v == 2
        block_id, v = await store.create_rule("block if :risk_score: >= 90", who="bo")
        assert (allow_id, block_id, v) == ("1", "2", 3)
        review_id, v = await store.create_rule("review if :amount: > 1000", enabled=False)
        assert v == 4

        version, rules, lists = await store.load()
        assert version == 4 == await store.version()
        assert lists == {"trusted_cards": frozenset({"c1", "c2"})}
        assert [r.rule_id for r in rules.rules] == ["1", "2"]  # the disabled rule is left out
        assert rules.decide({"card_id": "c1", "risk_score": 95, "amount": 5000}, lists)[0] == "allow"

        assert await store.remove_list_items("trusted_cards", ["c1"]) == 5
        assert await store.enable_rule(review_id) == 6
        version, rules, lists = await store.load()
        assert version == 6 and lists == {"trusted_cards": frozenset({"c2"})}
        assert rules.decide({"card_id": "c1", "risk_score": 95, "amount": 5000}, lists) == (
            "block",
            ["block if :risk_score: >= 90", "review if :amount: > 1000"],
        )

        assert await store.disable_rule(block_id) == 7
        assert await store.delete_rule(allow_id) == 8
        assert await store.remove_list_items("trusted_cards", ["c2"]) == 9
        version, rules, lists = await store.load()
        assert version == 9 and lists == {"trusted_cards": frozenset()}  # emptied lists stay defined
        assert [r.text for r in rules.rules] == ["review if :amount: > 1000"]
        _, stored, _ = await store.snapshot()
        assert [(r.rule_id, r.enabled) for r in stored] == [("2", False), ("3", True)]

        history = await store.history()
        assert [h.version for h in history] == list(range(1, 10))
        ops = "list_add create create create list_remove enable disable delete list_remove"
        assert [h.op for h in history] == ops.split()
        assert (history[0].target, history[0].detail, history[0].who) == (
            "trusted_cards",
            '["c1", "c2"]',
            "ana",
        )
        assert (history[1].target, history[1].detail) == ("1", "allow if :card_id: in @trusted_cards")
        assert (history[7].target, history[7].detail) == ("1", "allow if :card_id: in @trusted_cards")
        assert [h.version for h in await store.history(count=2)] == [8, 9]

    run(services, body, decode_responses=decode)


def test_invalid_changes_store_nothing(services: EmbeddedServices, redis_client: redis.Redis) -> None:
    async def body(store: RuleStore) -> None:
        with pytest.raises(RuleSyntaxError) as info:
            await store.create_rule("allow if :card_id: in @trusted_cards")  # no such list yet
        assert info.value.position == 22
        with pytest.raises(RuleSyntaxError):
            await store.create_rule("block if :amount: > 'abc'")
        with pytest.raises(KeyError):
            await store.enable_rule("42")
        with pytest.raises(KeyError):
            await store.delete_rule("42")
        with pytest.raises(ValueError):
            await store.add_list_items("bad name", ["x"])
        assert await store.version() == 0 and await store.history() == []
        assert await store.create_list("trusted_cards") == 1
        assert (await store.create_rule("allow if :card_id: in @trusted_cards"))[1] == 2

    run(services, body)


def test_stale_stored_rule_is_skipped(services: EmbeddedServices, redis_client: redis.Redis) -> None:
    redis_client.hset(
        "rw:{rules}:defs",
        "7",
        '{"text": "block if :gone: > 1", "enabled": true, "created_at": "", "updated_at": ""}',
    )

    async def body(store: RuleStore) -> None:
        _, rules, _ = await store.load()
        assert len(rules) == 0

    run(services, body)


def test_live_rules_reload_only_on_change(services: EmbeddedServices, redis_client: redis.Redis) -> None:
    async def body(store: RuleStore) -> None:
        live = LiveRules(store)
        assert await live.refresh() is True and live.version == 0
        assert await live.refresh() is False
        assert live.decide({"amount": 5000}) == (None, [])

        await store.create_rule("review if :amount: > 1000")  # e.g. from the API, another process
        assert await live.refresh() is True
        assert live.decide({"amount": 5000}) == ("review", ["review if :amount: > 1000"])
        assert await live.refresh() is False

        await store.add_list_items("vip", ["c9"])
        await store.create_rule("allow if :card_id: in @vip")
        assert await live.refresh() is True
        assert live.decide({"amount": 5000, "card_id": "c9"})[0] == "allow"

    run(services, body)


def test_every_change_records_its_op_detail_author_and_utc_time(
    services: EmbeddedServices, redis_client: redis.Redis
) -> None:
    async def body(store: RuleStore) -> None:
        assert await store.create_list("vip") == 1
        rule_id, _ = await store.create_rule("allow if :card_id: in @vip")
        assert await store.add_list_items("vip", ["c1", "c2"]) == 3
        assert await store.remove_list_items("vip", ["c1"]) == 4
        await store.disable_rule(rule_id)
        await store.enable_rule(rule_id)
        await store.delete_rule(rule_id)
        history = await store.history()
        assert [(h.op, h.target, h.detail, h.who) for h in history] == [
            ("list_create", "vip", "[]", ""),
            ("create", "1", "allow if :card_id: in @vip", ""),
            ("list_add", "vip", '["c1", "c2"]', ""),
            ("list_remove", "vip", '["c1"]', ""),
            ("disable", "1", "allow if :card_id: in @vip", ""),
            ("enable", "1", "allow if :card_id: in @vip", ""),
            ("delete", "1", "allow if :card_id: in @vip", ""),
        ]
        for h in history:  # times are UTC, with their offset
            assert datetime.fromisoformat(h.at).utcoffset() == timedelta(0), h.at
        # Rule ids come from their own counter (docs/redis-keys.md), not from the version.
        assert redis_client.get("rw:{rules}:seq") == b"1"

    run(services, body)


def test_stored_rules_keep_their_times(services: EmbeddedServices, redis_client: redis.Redis) -> None:
    async def body(store: RuleStore) -> None:
        rule_id, _ = await store.create_rule("review if :amount: > 1000")
        created = (await store.history())[-1].at
        await store.disable_rule(rule_id)
        updated = (await store.history())[-1].at
        _, stored, _ = await store.snapshot()
        assert [(r.created_at, r.updated_at) for r in stored] == [(created, updated)]

    run(services, body)


def test_errors_name_what_was_wrong(services: EmbeddedServices, redis_client: redis.Redis) -> None:
    async def body(store: RuleStore) -> None:
        with pytest.raises(KeyError, match="no rule '42'"):
            await store.disable_rule("42")
        with pytest.raises(ValueError, match=r"list names match .*: 'bad name'"):
            await store.create_list("bad name")

    run(services, body)


def test_several_lists_load_each_with_its_own_items(
    services: EmbeddedServices, redis_client: redis.Redis
) -> None:
    async def body(store: RuleStore) -> None:
        await store.add_list_items("a", ["1"])
        await store.add_list_items("b", ["2", "3"])
        await store.create_list("c")
        _, _, lists = await store.snapshot()
        assert lists == {"a": frozenset({"1"}), "b": frozenset({"2", "3"}), "c": frozenset()}

    run(services, body)


def test_history_gives_the_latest_hundred_by_default(
    services: EmbeddedServices, redis_client: redis.Redis
) -> None:
    async def body(store: RuleStore) -> None:
        for i in range(101):
            await store.add_list_items("many", [str(i)])
        history = await store.history()
        assert [h.version for h in history] == list(range(2, 102))

    run(services, body)


def test_rules_that_no_longer_compile_are_skipped_with_a_warning(
    services: EmbeddedServices, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    for rule_id, text in (("7", '"allow if :card_id: in @gone"'), ("8", "12")):
        redis_client.hset(
            "rw:{rules}:defs",
            rule_id,
            f'{{"text": {text}, "enabled": true, "created_at": "", "updated_at": ""}}',
        )

    async def body(store: RuleStore) -> None:
        _, rules, _ = await store.load()
        assert len(rules) == 0

    with caplog.at_level(logging.WARNING, logger="store.rules"):
        run(services, body)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("rule 7 skipped, it no longer compiles: ") and "gone" in messages[0]
    assert messages[1] == "rule 8 skipped, it could not be compiled"
    assert caplog.records[1].exc_info is not None


def test_live_rules_add_their_extra_rules_before_and_after_a_load(
    services: EmbeddedServices, redis_client: redis.Redis
) -> None:
    extra = compile_rule("review if :amount: > 1000", rule_id="pack-1")

    async def body(store: RuleStore) -> None:
        live = LiveRules(store, [extra])
        assert (live.version, live.lists) == (-1, {})
        assert live.decide({"amount": 5000}) == ("review", ["review if :amount: > 1000"])
        await store.create_rule("block if :amount: > 4000")
        assert await live.refresh() is True and live.version == 1
        assert [r.rule_id for r in live.rules.rules] == ["1", "pack-1"]

    run(services, body)
