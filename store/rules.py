"""Rules and named lists kept in Redis, versioned, with a history of changes.

Key layout: docs/redis-keys.md, "Rules and lists". Every change is one Lua
call that applies it, bumps ``rw:{rules}:version`` and appends to the history
(every key under the ``{rules}`` hash tag, one Redis Cluster slot).
Workers poll ``version()`` (one GET) and ``load()`` only when it changed;
``LiveRules`` does exactly that.

>>> import asyncio
>>> from store.connect import async_client
>>> async def demo(url: str) -> None:
...     store = RuleStore(async_client(url, cluster=False))
...     await store.add_list_items("trusted_cards", ["c1"])
...     rule_id, version = await store.create_rule("allow if :card_id: in @trusted_cards")
...     version, rules, lists = await store.load()
...     print(version, rules.decide({"card_id": "c1"}, lists))
>>> asyncio.run(demo(redis_url))  # doctest: +SKIP
2 ('allow', ['allow if :card_id: in @trusted_cards'])
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from redis.exceptions import ResponseError

from rules.compiler import RuleSet, compile_rule
from rules.errors import RuleSyntaxError
from store.connect import AsyncRedis
from store.layout import RULES
from store.replies import text
from store.scripts import script

log = logging.getLogger(__name__)

HISTORY_MAX: Final = 100_000
_LIST_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_CHANGE = script("rules_change")

_LOAD = script("rules_load")


@dataclass(frozen=True)
class StoredRule:
    """A rule as stored: id, text and whether it takes part in decisions."""

    rule_id: str
    text: str
    enabled: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class HistoryEntry:
    """One change: the version it produced, what was done, to what, by whom, when."""

    version: int
    op: str
    target: str
    detail: str
    who: str
    at: str


class RuleStore:
    """Rules and lists in Redis (a ``redis.asyncio`` client, bytes or str responses).

    Every key starts with ``prefix``; on a Redis Cluster it must hold a hash tag (the
    default ``rw:{rules}:`` does), so that each change's keys share one slot."""

    def __init__(self, client: AsyncRedis, prefix: str = RULES) -> None:
        self.client = client
        self.prefix = prefix
        self._change = client.register_script(_CHANGE)
        self._load = client.register_script(_LOAD)

    def _key(self, name: str) -> str:
        return self.prefix + name

    async def version(self) -> int:
        """The current version (0 before the first change): one GET."""
        raw = await self.client.get(self._key("version"))
        return int(raw) if raw is not None else 0

    async def _apply(self, op: str, target: str, detail: str, who: str, extra: list[str]) -> tuple[int, str]:
        keys = [self._key(k) for k in ("version", "seq", "defs", "lists", "history")]
        keys.append(self._key("list:" + target) if op.startswith("list_") else self._key("list:"))
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            version, out = await self._change(keys, [op, target, detail, who, at, HISTORY_MAX, *extra])
        except ResponseError as err:
            if str(err).startswith("NORULE"):
                raise KeyError(f"no rule {target!r}") from None
            raise
        return int(version), text(out)

    async def list_names(self) -> set[str]:
        """Names of the defined lists."""
        return {text(n) for n in await self.client.smembers(self._key("lists"))}

    async def create_rule(self, text: str, *, enabled: bool = True, who: str = "") -> tuple[str, int]:
        """Validate ``text`` against the current lists and store it; returns (rule id, version).
        Raises ``RuleSyntaxError`` and stores nothing when the rule is malformed."""
        compile_rule(text, known_lists=await self.list_names())
        version, rule_id = await self._apply("create", "", text, who, ["1" if enabled else "0"])
        return rule_id, version

    async def enable_rule(self, rule_id: str, *, who: str = "") -> int:
        """Make a rule take part in decisions; returns the new version (KeyError if absent)."""
        return (await self._apply("enable", rule_id, "", who, []))[0]

    async def disable_rule(self, rule_id: str, *, who: str = "") -> int:
        """Keep a rule but leave it out of decisions; returns the new version."""
        return (await self._apply("disable", rule_id, "", who, []))[0]

    async def delete_rule(self, rule_id: str, *, who: str = "") -> int:
        """Remove a rule; returns the new version (KeyError if absent)."""
        return (await self._apply("delete", rule_id, "", who, []))[0]

    def _list_change(self, name: str, items: Iterable[str]) -> list[str]:
        if not _LIST_NAME.match(name):
            raise ValueError(f"list names match {_LIST_NAME.pattern}: {name!r}")
        return [str(item) for item in items]

    async def create_list(self, name: str, *, who: str = "") -> int:
        """Define an (empty) list so rules may name it; returns the new version."""
        self._list_change(name, ())
        return (await self._apply("list_create", name, "[]", who, []))[0]

    async def add_list_items(self, name: str, items: Iterable[str], *, who: str = "") -> int:
        """Add items to a list (creating it); returns the new version."""
        values = self._list_change(name, items)
        return (await self._apply("list_add", name, json.dumps(values), who, values))[0]

    async def remove_list_items(self, name: str, items: Iterable[str], *, who: str = "") -> int:
        """Remove items from a list (it stays defined); returns the new version."""
        values = self._list_change(name, items)
        return (await self._apply("list_remove", name, json.dumps(values), who, values))[0]

    async def snapshot(self) -> tuple[int, list[StoredRule], dict[str, frozenset[str]]]:
        """Version, every stored rule (by id) and every list, read atomically."""
        keys = [self._key(k) for k in ("version", "defs", "lists")]
        raw_version, flat, raw_lists = await self._load(keys, [self._key("list:")])
        stored = []
        for rule_id, raw in zip(flat[::2], flat[1::2], strict=True):
            doc = json.loads(raw)
            stored.append(
                StoredRule(
                    text(rule_id), doc["text"], bool(doc["enabled"]), doc["created_at"], doc["updated_at"]
                )
            )
        stored.sort(key=lambda r: int(r.rule_id))
        lists = {
            text(name): frozenset(text(m) for m in members)
            for name, members in zip(raw_lists[::2], raw_lists[1::2], strict=True)
        }
        return int(text(raw_version)), stored, lists

    async def load(self) -> tuple[int, RuleSet, dict[str, frozenset[str]]]:
        """Version, the enabled rules compiled into a ``RuleSet``, and the lists.
        A stored rule that no longer compiles is skipped with a warning."""
        version, stored, lists = await self.snapshot()
        compiled = []
        for rule in stored:
            if not rule.enabled:
                continue
            try:
                compiled.append(compile_rule(rule.text, known_lists=lists, rule_id=rule.rule_id))
            except RuleSyntaxError as err:
                log.warning("rule %s skipped, it no longer compiles: %s", rule.rule_id, err.cause)
            except Exception:  # one bad stored rule must not stop every decision
                log.exception("rule %s skipped, it could not be compiled", rule.rule_id)
        return version, RuleSet(compiled), lists

    async def history(self, count: int = 100) -> list[HistoryEntry]:
        """The latest ``count`` changes, oldest first."""
        entries: Any = await self.client.xrevrange(self._key("history"), count=count)
        out = []
        for _id, fields in reversed(entries):
            f = {text(k): text(v) for k, v in fields.items()}
            out.append(HistoryEntry(int(f["version"]), f["op"], f["target"], f["detail"], f["who"], f["at"]))
        return out
