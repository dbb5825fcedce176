"""Rules a running worker keeps current without a restart.

``refresh()`` costs one GET when nothing changed and a ``load()`` when the
version moved, so a worker can call it once per micro-batch.

>>> import asyncio
>>> async def per_batch(live: LiveRules, values: dict[str, object]) -> None:
...     await live.refresh()
...     action, matched = live.decide(values)
>>> LiveRules.__name__
'LiveRules'
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.compiler import Rule, RuleSet, Values
from store.rules import RuleStore


class LiveRules:
    """The latest rules and lists of a ``RuleStore``, reloaded only when its version changes."""

    def __init__(self, store: RuleStore, extra: Iterable[Rule] = ()) -> None:
        self.store = store
        #: Rules added to the store's (the default pack), decided in Radar's order with them.
        self.extra = tuple(extra)
        self.version = -1
        self.rules = RuleSet(self.extra)
        self.lists: dict[str, frozenset[str]] = {}

    async def refresh(self) -> bool:
        """Reload when the store's version changed; True when it did."""
        if await self.store.version() == self.version:
            return False
        self.version, stored, self.lists = await self.store.load()
        self.rules = RuleSet((*stored.rules, *self.extra)) if self.extra else stored
        return True

    def decide(self, values: Values) -> tuple[str | None, list[str]]:
        """``RuleSet.decide`` with the current rules and lists."""
        return self.rules.decide(values, self.lists)
