"""A small, bounded hyper-parameter search on the time split: XGBoost's own early
stopping on the validation window, over a few tree shapes.

The default shape (depth 4) underfits a sharp rule (every payment above an amount
is fraud) next to softer patterns; deeper trees find it but can overfit a small
history. Each candidate trains until the validation AUC-PR stops improving; the
best validation AUC-PR wins, ties to the earlier (simpler) candidate. The budget
is the grid's length times ``rounds``, and every trial is in the model card.
"""

from __future__ import annotations

from typing import Any

import xgboost as xgb

__all__ = ["GRID", "search"]

#: Tree shapes tried, simplest first.
GRID: tuple[dict[str, Any], ...] = (
    {"max_depth": 4, "min_child_weight": 2},
    {"max_depth": 6, "min_child_weight": 1},
)


def search(
    params: dict[str, Any],
    train_m: xgb.DMatrix,
    valid_m: xgb.DMatrix,
    *,
    rounds: int,
    grid: tuple[dict[str, Any], ...] = GRID,
    patience: int = 30,
) -> tuple[xgb.Booster, dict[str, Any], list[dict[str, Any]]]:
    """The best booster (cut at its best iteration), its params and every trial."""
    best: tuple[float, xgb.Booster, dict[str, Any]] | None = None
    trials = []
    for shape in grid:
        trial_params = {**params, **shape}
        booster = xgb.train(
            trial_params,
            train_m,
            num_boost_round=rounds,
            evals=[(valid_m, "validation")],
            early_stopping_rounds=patience,
            verbose_eval=False,
        )
        score = float(booster.best_score)
        trials.append({**shape, "validation_aucpr": score, "trees": int(booster.best_iteration + 1)})
        if best is None or score > best[0]:
            best = (score, booster[: booster.best_iteration + 1], trial_params)
    if best is None:
        raise ValueError("the hyper-parameter grid is empty")
    return best[1], best[2], trials
