"""Following the registry: a promoted model is picked up between batches, no restart.

The check is a small file read at most every ``check_every_s``; a version that
fails verification is refused with a log line and the running model keeps
serving, so a bad promotion never stops scoring.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from models.batch_model import BatchModel
from models.errors import ModelError
from models.loading import ModelRegistry

log = logging.getLogger(__name__)


class ModelFollower:
    """Knows the model in use and swaps it when the registry's current version changes."""

    def __init__(
        self,
        registry: ModelRegistry,
        model: BatchModel,
        check_every_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.model = model
        self.check_every_s = check_every_s
        self._clock = clock
        self._checked = clock()
        self._refused: str | None = None

    def refresh(self) -> BatchModel | None:
        """The newly promoted model if the current version changed since the last look."""
        now = self._clock()
        if now - self._checked < self.check_every_s:
            return None
        self._checked = now
        try:
            version = self.registry.current()
        except ModelError as exc:
            log.error("keeping model %s: %s", self.model.version, exc)
            return None
        if version in (self.model.version, self._refused):
            return None
        try:
            model = self.registry.check(version)  # the whole version, online state included
        except Exception as exc:  # whatever it is, the running model keeps serving
            self._refused = version  # said once, not every few seconds
            log.error("keeping model %s: %s", self.model.version, exc)
            return None
        log.info("model %s promoted: now scoring with it (was %s)", model.version, self.model.version)
        self.model = model
        return model
