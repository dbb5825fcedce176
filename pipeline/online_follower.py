"""The scoring side of online learning: follow the learner's checkpoint.

Workers that score do not learn; they blend with the latest committed learner,
polling its sequence number (one ``GET``) at most every ``every_s`` seconds and
loading the state only when it changed. Before the first checkpoint there is
no online model and the blend is the batch model alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from models.errors import ModelError
from store.online_checkpoint import OnlineCheckpoint

log = logging.getLogger(__name__)
L = TypeVar("L")


class OnlineFollower(Generic[L]):
    def __init__(
        self,
        checkpoint: OnlineCheckpoint,
        load_learner: Callable[[dict[str, Any]], L],  # raises ModelError on a state it cannot read
        *,
        every_s: float = 1.0,
    ) -> None:
        self.checkpoint = checkpoint
        self._load = load_learner
        self.every_s = every_s
        self.learner: L | None = None
        self.seq = 0
        self._checked = float("-inf")

    async def refresh(self, now: float, *, force: bool = False) -> bool:
        """Load a newer checkpoint if there is one; True when the learner changed."""
        if not force and now - self._checked < self.every_s:
            return False
        self._checked = now
        if await self.checkpoint.seq() == self.seq:
            return False
        snap = await self.checkpoint.load()
        if snap.learner is None:
            return False
        try:
            learner = self._load(snap.learner)
        except ModelError as exc:
            # A checkpoint this code cannot read keeps the previous learner serving.
            log.error("online checkpoint %d not loaded, keeping %d: %r", snap.seq, self.seq, exc)
            self.seq = snap.seq
            return False
        self.learner, self.seq = learner, snap.seq
        return True
