"""What a running pipeline scores with, and the one place it changes.

``LiveState`` holds the batch model, the shadow candidate, the live rules and the
online learner. Its ``refresh()`` is called once at the start of every batch — by
the worker's handler, by replay and by ``POST /v1/score`` alike — and
``snapshot()`` then gives the batch one consistent ``Snapshot``: a promotion or a
rule change lands between batches, never inside one. What a batch tells its caller
(shadow agreement, the PSI input) comes back as a ``BatchReport``, for the caller
to feed to its monitors and metrics.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from models.batch_model import BatchModel
from models.errors import ModelError
from models.hot_reload import ModelFollower
from models.loading import ModelRegistry
from pipeline.live_rules import LiveRules
from pipeline.online_follower import OnlineFollower
from rules.compiler import RuleSet

log = logging.getLogger(__name__)

#: How often the registry's SHADOW pointer is looked at (a small file read).
SHADOW_CHECK_S = 2.0


@dataclass(frozen=True)
class Snapshot:
    """One batch's models, rules and online learner: read once, never changed under it."""

    model: BatchModel
    shadow: BatchModel | None = None
    rules: RuleSet | None = None
    lists: Mapping[str, frozenset[str]] = field(default_factory=dict)
    learner: Any | None = None  # an ``OnlineLearner`` (or a test's stand-in)


@dataclass(frozen=True)
class BatchReport:
    """What one scored batch tells its caller: the input of the PSI monitor (feature
    rows and batch-model probabilities) and how the shadow's decisions compared."""

    model_version: str
    features: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 0)))
    probabilities: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    #: ``same``/``stricter``/``more_lenient`` → events, when a shadow scored the batch.
    shadow: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Refreshed:
    """What a ``refresh()`` changed."""

    promoted: BatchModel | None = None  # the newly promoted batch model
    previous: str | None = None  # the version it replaced
    shadow_changed: bool = False


class LiveState:
    """The live models, rules and online learner of one pipeline.

    With ``registry``, it follows the registry: promotions (``ModelFollower``) and
    the SHADOW pointer (every ``SHADOW_CHECK_S``). Without one (a replay of a chosen
    version, tests), the models stay those given; rules and the online learner
    follow their stores in either case.
    """

    def __init__(
        self,
        model: BatchModel,
        *,
        shadow: BatchModel | None = None,
        rules: LiveRules | None = None,
        online: OnlineFollower[Any] | None = None,
        registry: ModelRegistry | None = None,
        rules_every_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.shadow = shadow
        self.rules = rules
        self.online = online
        self.registry = registry
        self.rules_every_s = rules_every_s
        self._clock, self._monotonic = clock, monotonic
        self._models = None if registry is None else ModelFollower(registry, model, clock=monotonic)
        self._rules_checked = float("-inf")
        self._shadow_checked = monotonic()

    async def refresh(self, *, force_online: bool = False) -> Refreshed:
        """Pick up a promotion, a new shadow, new rules and a newer online checkpoint.

        Each source is looked at no more often than its own interval; ``force_online``
        reloads the online checkpoint now (replay, after applying labels).
        """
        promoted, previous, shadow_changed = None, None, False
        if self._models is not None and (promoted := self._models.refresh()) is not None:
            previous, self.model = self.model.version, promoted
        if self.registry is not None and self._monotonic() - self._shadow_checked >= SHADOW_CHECK_S:
            shadow_changed = self._follow_shadow(self.registry)
            self._shadow_checked = self._monotonic()
        now = self._clock()
        if self.rules is not None and now - self._rules_checked >= self.rules_every_s:
            # One GET at most every rules_every_s: rule changes reach running workers.
            await self.rules.refresh()
            self._rules_checked = now
        if self.online is not None:
            await self.online.refresh(now, force=force_online)
        return Refreshed(promoted, previous, shadow_changed)

    def snapshot(self) -> Snapshot:
        """What the next batch is scored with."""
        rules = self.rules
        return Snapshot(
            model=self.model,
            shadow=self.shadow,
            rules=rules.rules if rules is not None else None,
            lists=rules.lists if rules is not None else {},
            learner=self.online.learner if self.online is not None else None,
        )

    def _follow_shadow(self, registry: ModelRegistry) -> bool:
        """Start, switch or stop shadow scoring when the SHADOW pointer moved."""
        wanted = registry.shadow()
        running = self.shadow.version if self.shadow is not None else None
        if wanted == running:
            return False
        self.shadow = shadow_model(registry)
        log.info("shadow model: %s", self.shadow.version if self.shadow else "none")
        return True


def shadow_model(registry: ModelRegistry) -> BatchModel | None:
    """The shadow candidate, if one is set and verifies; a bad one is logged, never fatal."""
    version = registry.shadow()
    if version is None:
        return None
    try:
        return BatchModel(registry.load(version))
    except ModelError as exc:
        log.error("shadow model %s not loaded: %s", version, exc)
        return None
