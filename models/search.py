"""A small, bounded hyper-parameter search on the time split: XGBoost's own early
stopping on the validation window, over a few tree shapes.

The default shape (depth 4) underfits a sharp rule (every payment above an amount
is fraud) next to softer patterns; deeper trees find it but can overfit a small
history. Each candidate trains until the validation AUC-PR stops improving; the
best validation AUC-PR wins; candidates within ``AUCPR_TIE`` of it (a week's
validation cannot tell them apart) are ranked by their validation log-loss, which
also rewards a model that is sure where the data is sure. The budget is the
grid's length times ``rounds``, and every trial is in the model card.
"""

from __future__ import annotations

from typing import Any

import xgboost as xgb

__all__ = ["GRID", "search"]

#: Validation AUC-PR differences below this are noise: log-loss decides.
AUCPR_TIE = 0.002
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
    callbacks: list[Any] | None = None,
) -> tuple[xgb.Booster, dict[str, Any], list[dict[str, Any]]]:
    """The best booster (cut at its best iteration), its params and every trial."""
    fitted: list[tuple[float, float, xgb.Booster, dict[str, Any]]] = []
    trials = []
    for shape in grid:
        trial_params = {**params, **shape}
        history: dict[str, Any] = {}
        booster = xgb.train(
            trial_params,
            train_m,
            num_boost_round=rounds,
            evals=[(valid_m, "validation")],
            early_stopping_rounds=patience,
            evals_result=history,
            verbose_eval=False,
            callbacks=callbacks,
        )
        aucpr, at = float(booster.best_score), int(booster.best_iteration)
        logloss = float(history["validation"]["logloss"][at])
        trials.append({**shape, "validation_aucpr": aucpr, "validation_logloss": logloss, "trees": at + 1})
        fitted.append((aucpr, logloss, booster[: at + 1], trial_params))
    if not fitted:
        raise ValueError("the hyper-parameter grid is empty")
    top = max(f[0] for f in fitted)
    # min() keeps the first of equal log-losses: the simpler shape.
    _, _, booster, chosen = min((f for f in fitted if f[0] >= top - AUCPR_TIE), key=lambda f: f[1])
    return booster, chosen, trials
