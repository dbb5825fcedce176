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
from dataclasses import dataclass

from contracts.records import DecisionKind, RiskLevel


def risk_score(probability: float) -> int:
    """0–100, monotone in the probability; NaN is refused rather than scored."""
    if math.isnan(probability):
        raise ValueError("probability is NaN")
    return int(min(100, max(0, math.floor(probability * 100 + 0.5))))


@dataclass(frozen=True)
class RiskPolicy:
    elevated: int = 65
    highest: int = 75

    def __post_init__(self) -> None:
        if not 0 <= self.elevated <= self.highest <= 100:
            raise ValueError("thresholds must satisfy 0 <= elevated <= highest <= 100")

    def level(self, score: int) -> RiskLevel:
        if score >= self.highest:
            return RiskLevel.HIGHEST
        if score >= self.elevated:
            return RiskLevel.ELEVATED
        return RiskLevel.NORMAL

    def assess(self, probability: float) -> tuple[int, RiskLevel, DecisionKind]:
        score = risk_score(probability)
        level = self.level(score)
        decision = {
            RiskLevel.NORMAL: DecisionKind.ALLOW,
            RiskLevel.ELEVATED: DecisionKind.REVIEW,
            RiskLevel.HIGHEST: DecisionKind.BLOCK,
        }[level]
        return score, level, decision
