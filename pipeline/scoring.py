"""The scoring pipeline shared by the worker, replay and the synchronous API.

Per micro-batch: one Redis round trip for features, one model call, one SHAP
call, reasons and decision, one pipelined write of the decision records. No
per-event awaits, Redis calls or model calls.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from contracts.records import DecisionKind, Transaction
from explain.online_share import online_share_reason
from explain.reasons import explain_row
from explain.risk_score import RiskPolicy
from features.aggregates import Aggregates
from features.catalogue import FEATURE_NAMES
from features.online_store import FeatureStore, Position
from features.vectorize import vectorize
from models.batch_model import BatchModel
from models.drift import PsiMonitor
from pipeline.decision_store import CONFLICT, DecisionStore
from pipeline.online_follower import OnlineFollower
from rules.attributes import rule_values
from rules.live import LiveRules


@dataclass(frozen=True)
class ScoredEvent:
    """A decision as stored (and so as published): the first one ever made for the event."""

    event_id: str
    body: bytes
    risk_level: str
    decision: str

    @property
    def alert(self) -> bool:
        return self.decision in ALERTING

    @property
    def conflict(self) -> bool:
        """The event id belongs to another account's decision: nothing was scored."""
        return self.decision == CONFLICT_DECISION


class ScoringPipeline:
    def __init__(
        self,
        *,
        features: FeatureStore,
        decisions: DecisionStore,
        model: BatchModel,
        policy: RiskPolicy,
        top_reasons: int = 3,
        lowering_reasons: int = 2,
        rules: LiveRules | None = None,
        rules_every_s: float = 1.0,
        online: OnlineFollower[Any] | None = None,
        shadow: BatchModel | None = None,
        monitor: PsiMonitor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.features = features
        self.decisions = decisions
        self.model = model
        self.policy = policy
        self.top_reasons = top_reasons
        self.lowering_reasons = lowering_reasons
        self.rules = rules
        self.rules_every_s = rules_every_s
        self._rules_checked = float("-inf")
        self.online = online
        self.shadow = shadow
        self.monitor = monitor  # PSI of features and scores against the training window
        #: Shadow vs champion decisions since the worker last exported them.
        self.shadow_tally: Counter[str] = Counter()
        self.clock = clock

    def decide(
        self, transactions: Sequence[Transaction], raw: Aggregates, started: float
    ) -> list[dict[str, Any]]:
        """Pure part of the pipeline: features → model → explanation → decision records.

        Records are plain dicts in the ``Decision`` shape, serialised with orjson:
        building a pydantic model per event cost more than the model and SHAP together.
        """
        model = self.model  # one version for the whole batch, even if a promotion lands meanwhile
        matrix = vectorize(transactions, raw)
        p_batch = model.predict_proba(matrix.values)
        learner = self.online.learner if self.online is not None else None
        if learner is not None:
            blend = learner.blend(matrix.values, p_batch)
            probability = blend.probability.tolist()
            p_online: list[float] | None = blend.online_probability.tolist()
            weight = float(blend.online_weight)
            online_version = learner.online_version
        else:
            probability, p_online, weight, online_version = p_batch.tolist(), None, 0.0, None
        batch_probability = p_batch.tolist()
        if self.monitor is not None:
            self.monitor.update(matrix.values, p_batch)
        shadow = self._shadow(matrix.values)
        contributions, _base = model.contributions(matrix.values)
        now = self.clock()
        scored_at = datetime.fromtimestamp(now, UTC)
        latency_ms = round((now - started) * 1000.0, 3)
        out = []
        for i, tx in enumerate(transactions):
            p = probability[i]
            row = matrix.values[i]
            score, level, decision = self.policy.assess(p)
            by_score = decision  # before rules: what a shadow model is compared with
            matched: list[str] = []
            if self.rules is not None and len(self.rules.rules):
                action, matched = self.rules.decide(_rule_values(tx, row, score, p))
                if action is not None:
                    decision = DecisionKind(action)
            # What raised the risk, strongest first, then what lowered it most.
            up, down = explain_row(
                row, contributions[i], tx.currency, self.top_reasons, self.lowering_reasons
            )
            reasons = up + down
            if p_online is not None and weight > 0:
                reasons.append(
                    online_share_reason(
                        p_batch=batch_probability[i], p_online=p_online[i], p_blend=p, weight=weight
                    )
                )
            record = {
                "event_id": tx.event_id,
                "occurred_at": tx.occurred_at,
                "scored_at": scored_at,
                "risk_score": score,
                "risk_level": level.value,
                "decision": decision.value,
                "probability": p,
                "model": {
                    "batch_version": model.version,
                    "batch_weight": 1.0 - weight,
                    "online_version": online_version,
                    "online_weight": weight,
                    "batch_probability": batch_probability[i],
                    "online_probability": None if p_online is None else p_online[i],
                },
                "reasons": reasons,
                "rules": matched,
                "features": matrix.record(i),
                "latency_ms": latency_ms,
            }
            if shadow is not None:
                version, p_shadow = shadow
                s_score, s_level, s_decision = self.policy.assess(p_shadow[i])
                # Recorded for comparison with the champion's score-based decision, never acted on.
                record["shadow"] = {
                    "version": version,
                    "probability": p_shadow[i],
                    "risk_score": s_score,
                    "risk_level": s_level.value,
                    "decision": s_decision.value,
                }
                self.shadow_tally[_agreement(by_score.value, s_decision.value)] += 1
            out.append(record)
        return out

    def _shadow(self, x: Any) -> tuple[str, list[float]] | None:
        """The shadow candidate's probabilities (one call per batch), or None."""
        shadow = self.shadow
        if shadow is None:
            return None
        return shadow.version, shadow.predict_proba(x).tolist()

    async def score(
        self, transactions: Sequence[Transaction], positions: Mapping[str, Position] | None = None
    ) -> list[ScoredEvent]:
        """Score a batch; duplicates within it are scored once.

        ``positions`` (event id → Kafka source and offset of its first copy) lets the
        feature store repair a batch that a crash interrupted (docs/redis-keys.md).
        """
        started = self.clock()
        first: dict[str, Transaction] = {}
        for tx in transactions:
            first.setdefault(tx.event_id, tx)  # the first copy wins, as across batches
        unique = list(first.values())
        if not unique:
            return []
        if self.rules is not None and started - self._rules_checked >= self.rules_every_s:
            # One GET at most every rules_every_s: rule changes reach running workers.
            await self.rules.refresh()
            self._rules_checked = started
        if self.online is not None:
            await self.online.refresh(started)
        where = None if positions is None else [positions[tx.event_id] for tx in unique]
        raw = await self.features.record_and_fetch(unique, where)
        decisions = self.decide(unique, raw, started)
        bodies = [(d["event_id"], orjson.dumps(d)) for d in decisions]
        stored = await self.decisions.put_new(
            [(tx, body) for tx, (_, body) in zip(unique, bodies, strict=True)]
        )
        out = []
        for decision, (eid, ours), body in zip(decisions, bodies, stored, strict=True):
            if body == CONFLICT:
                out.append(ScoredEvent(eid, b"", "", CONFLICT_DECISION))
                continue
            # A stored record may predate this attempt: its decision, not ours, is published.
            record = decision if body == ours else orjson.loads(body)
            out.append(ScoredEvent(eid, body, record["risk_level"], record["decision"]))
        return out


def _agreement(champion: str, shadow: str) -> str:
    """``same``, or whether the shadow would have been stricter or more lenient."""
    if champion == shadow:
        return "same"
    return "stricter" if _SEVERITY[shadow] > _SEVERITY[champion] else "more_lenient"


_SEVERITY = {DecisionKind.ALLOW.value: 0, DecisionKind.REVIEW.value: 1, DecisionKind.BLOCK.value: 2}
CONFLICT_DECISION = "conflict"
ALERTING = frozenset({DecisionKind.REVIEW.value, DecisionKind.BLOCK.value})


def _rule_values(tx: Transaction, row: Any, risk_score: int, probability: float) -> dict[str, object]:
    """What rules see: the transaction's fields, the features (None when unknown), the model's outputs."""
    features = {name: (None if v != v else v) for name, v in zip(FEATURE_NAMES, row.tolist(), strict=True)}
    return rule_values(tx.model_dump(), features, risk_score=risk_score, probability=probability)
