"""From a blended probability to a 0–100 risk score, a level and a decision.

The score is ``round(100 · p)``: monotone in the probability, so a threshold
on the score is a threshold on the probability. Levels follow Radar: *elevated*
from 65, *highest* from 75 (both configurable); the default decision reviews
elevated risk and blocks the highest.

>>> policy = RiskPolicy(elevated=65, highest=75)
>>> [policy.assess(p) for p in (0.10, 0.70, 0.93)]  # doctest: +NORMALIZE_WHITESPACE
[(10, <RiskLevel.NORMAL: 'normal'>, <DecisionKind.ALLOW: 'allow'>),
 (70, <RiskLevel.ELEVATED: 'elevated'>, <DecisionKind.REVIEW: 'review'>),
 (93, <RiskLevel.HIGHEST: 'highest'>, <DecisionKind.BLOCK: 'block'>)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from contracts.records import DecisionKind, RiskLevel


def risk_score(probability: float) -> int:
    """0–100, monotone in the probability; NaN is refused rather than scored."""
    if math.isnan(probability):
        raise ValueError("probability is NaN")
    return int(min(100, max(0, math.floor(probability * 100 + 0.5))))


_BY_LEVEL = {
    RiskLevel.NORMAL: DecisionKind.ALLOW,
    RiskLevel.ELEVATED: DecisionKind.REVIEW,
    RiskLevel.HIGHEST: DecisionKind.BLOCK,
}


@dataclass(frozen=True)
class RiskPolicy:
    """Levels from ``elevated``/``highest``; decisions from the levels, or, with
    ``review_from``/``block_from`` (a model's review-capacity policy,
    ``models.decision_policy``), block from ``block_from`` and review from ``review_from``.

    >>> RiskPolicy(review_from=30, block_from=70).assess(0.40)[1:]
    (<RiskLevel.NORMAL: 'normal'>, <DecisionKind.REVIEW: 'review'>)
    """

    elevated: int = 65
    highest: int = 75
    review_from: int | None = None
    block_from: int | None = None
    #: Apply a model's review-capacity policy when its card has one (``for_model``).
    capacity: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.elevated <= self.highest <= 100:
            raise ValueError("thresholds must satisfy 0 <= elevated <= highest <= 100")
        if (self.review_from is None) != (self.block_from is None):
            raise ValueError("review_from and block_from go together")
        if self.review_from is not None and not 0 <= self.review_from <= (self.block_from or 0) <= 101:
            raise ValueError("need 0 <= review_from <= block_from <= 101")

    def for_model(self, manifest: Mapping[str, Any]) -> RiskPolicy:
        """This policy with the model card's review-capacity thresholds, when enabled and present."""
        card = manifest.get("decision_policy")
        if not self.capacity or not isinstance(card, Mapping):
            return self
        try:
            return replace(self, review_from=int(card["review_from"]), block_from=int(card["block_from"]))
        except (KeyError, TypeError, ValueError):
            return self  # an unreadable policy: the level-based decisions

    def decision(self, score: int) -> DecisionKind:
        if self.block_from is None or self.review_from is None:
            return _BY_LEVEL[self.level(score)]
        if score >= self.block_from:
            return DecisionKind.BLOCK
        return DecisionKind.REVIEW if score >= self.review_from else DecisionKind.ALLOW

    def level(self, score: int) -> RiskLevel:
        if score >= self.highest:
            return RiskLevel.HIGHEST
        if score >= self.elevated:
            return RiskLevel.ELEVATED
        return RiskLevel.NORMAL

    def assess(self, probability: float) -> tuple[int, RiskLevel, DecisionKind]:
        score = risk_score(probability)
        return score, self.level(score), self.decision(score)
