"""An XGBoost training callback that reports each boosting round (for progress output)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import xgboost as xgb


class RoundProgress(xgb.callback.TrainingCallback):
    """Calls ``tick(1)`` after every boosting round; never stops the training."""

    def __init__(self, tick: Callable[[int], None]) -> None:
        super().__init__()
        self._tick = tick

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self._tick(1)
        return False  # True would stop the training
