"""The scoring pipeline shared by the worker, replay and the synchronous API.

Per micro-batch: one Redis round trip for features, one model call, the
decisions (score, then rules), one SHAP call for the alerts only and their
reasons, one pipelined write of the decision records. No per-event awaits,
Redis calls or model calls. A batch is scored with one ``LiveState`` snapshot
(``pipeline.live_state``) and answers its caller a ``BatchReport``. Allowed payments
are explained on demand by the API (``api.explanations``); the record shapes are in
``pipeline.record_shapes``.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from contracts.identity import event_ref
from contracts.records import ENTITY_KINDS, DecisionKind, Transaction
from explain.decision_reasons import decision_reasons
from explain.risk_score import RiskPolicy
from features.aggregates import Aggregates
from features.vectorize import vectorize
from models.batch_model import BatchModel
from pipeline.live_state import BatchReport, LiveState, Snapshot
from pipeline.record_shapes import VECTOR_KEY, vector_blocks
from pipeline.rule_values import RuleValues
from store.decisions import DecisionWriter
from store.feature_state import FeatureStore, Position


@dataclass(frozen=True)
class ScoredEvent:
    """A decision as stored: the first one ever made for the event. What is published is
    derived from ``body`` (``pipeline.record_shapes.topic_body``), on a redelivery too."""

    ref: str  # the event's reference: (account, event id), ``contracts.identity.event_ref``
    event_id: str
    body: bytes
    risk_level: str
    decision: str

    @property
    def alert(self) -> bool:
        return self.decision in ALERTING


class ScoringPipeline:
    """Scores batches with ``live``'s snapshot; the caller refreshes ``live`` once per batch."""

    def __init__(
        self,
        *,
        features: FeatureStore,
        decisions: DecisionWriter,
        live: LiveState,
        policy: RiskPolicy,
        top_reasons: int = 3,
        lowering_reasons: int = 2,
        clock: Callable[[], float] = time.time,
        explain_all: bool = False,
        shared_signals: frozenset[str] = frozenset(),
    ) -> None:
        self.features = features
        self.decisions = decisions
        self.live = live
        self.policy = policy
        self.top_reasons = top_reasons
        self.lowering_reasons = lowering_reasons
        self.clock = clock
        #: Explain every decision on the hot path, not only alerts (tests, benchmarks).
        self.explain_all = explain_all
        #: Entity kinds whose feature state all accounts share (``RISKWIRE_SHARED_SIGNALS``).
        self.shared_signals = [k for k in ENTITY_KINDS if k in shared_signals]

    def decide(
        self,
        transactions: Sequence[Transaction],
        raw: Aggregates,
        started: float,
        *,
        state: Snapshot | None = None,
        explain_all: bool | None = None,
    ) -> Decided:
        """Pure part of the pipeline: features → model → decision → explanation → records,
        with ``state`` (default: ``live``'s current snapshot); nothing is changed.

        Records are plain dicts in the stored shape (``pipeline.record_shapes``),
        serialised with orjson: building a pydantic model per event cost more than the
        model and SHAP together. Every row is predicted, then decided (rules see the
        risk score, not the explanation), then only the alerts (``review``/``block``)
        get their TreeSHAP reasons, in one ``pred_contribs`` call; an allowed payment
        is stored with ``"reasons": []`` and ``"explained": false``, and the API
        explains it on demand from its stored features and model version, to the same
        values. ``explain_all`` (default: the pipeline's ``explain_all``) explains
        every row here instead. The records come with the batch's report (PSI input,
        shadow agreement) and each record's index fields.
        """
        state = self.live.snapshot() if state is None else state
        model = state.model  # one version for the whole batch
        matrix = vectorize(transactions, raw)
        x = matrix.values
        p_batch = model.predict_proba(x)
        learner = state.learner
        if learner is not None:
            blend = learner.blend(x, p_batch)
            probability = blend.probability.tolist()
            p_online: list[float] | None = blend.online_probability.tolist()
            weight = float(blend.online_weight)
            online_version = learner.online_version
        else:
            probability, p_online, weight, online_version = p_batch.tolist(), None, 0.0, None
        batch_probability = p_batch.tolist()
        shadow = _shadow(state.shadow, x)
        shadow_policy = self.policy.for_model(getattr(state.shadow, "manifest", {}))
        tally: Counter[str] = Counter()
        now = self.clock()
        scored_at = datetime.fromtimestamp(now, UTC)
        scored_us = int(scored_at.timestamp() * 1_000_000)
        latency_ms = round((now - started) * 1000.0, 3)
        n = len(transactions)

        # Score, level and decision of every row; then the rules, which need the score only.
        scores = _risk_scores(probability)
        # A model without a card (a test double, a bench stub) decides by the levels.
        by_score = _decision_table(self.policy.for_model(getattr(model, "manifest", {})))
        levels = [by_score[s][0] for s in scores]
        decisions = [by_score[s][1] for s in scores]
        matched: list[list[str]] = [[] for _ in range(n)]
        if state.rules is not None and len(state.rules):
            rows, rules, lists = x.tolist(), state.rules, state.lists
            for i, tx in enumerate(transactions):
                action, matched[i] = rules.decide(RuleValues(tx, rows[i], scores[i], probability[i]), lists)
                if action is not None:
                    decisions[i] = DecisionKind(action).value

        # Exact TreeSHAP for the alerts only (or every row), one call on the subset.
        everything = self.explain_all if explain_all is None else explain_all
        explain = list(range(n)) if everything else [i for i in range(n) if decisions[i] in ALERTING]
        reasons: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        if explain:
            contributions, _base = model.contributions(x[explain] if len(explain) < n else x)
            for k, i in enumerate(explain):
                reasons[i] = decision_reasons(
                    x[i],
                    contributions[k],
                    transactions[i].currency,
                    self.top_reasons,
                    self.lowering_reasons,
                    p_batch=batch_probability[i],
                    p_online=None if p_online is None else p_online[i],
                    p_blend=probability[i],
                    weight=weight,
                )
        explained = [False] * n
        for i in explain:
            explained[i] = True

        vectors = vector_blocks(
            x,
            matrix.complete,
            [tx.currency for tx in transactions],
            (self.top_reasons, self.lowering_reasons),
        )
        batch_weight = 1.0 - weight
        out = []
        for i, tx in enumerate(transactions):
            record: dict[str, Any] = {
                "event_id": tx.event_id,
                "account_id": tx.account_id,
                "card_id": tx.card_id,
                "merchant_id": tx.merchant_id,
                "customer_id": tx.customer_id,
                "occurred_at": tx.occurred_at,
                "scored_at": scored_at,
                "risk_score": scores[i],
                "risk_level": levels[i],
                "decision": decisions[i],
                "probability": probability[i],
                "model": {
                    "batch_version": model.version,
                    "batch_weight": batch_weight,
                    "online_version": online_version,
                    "online_weight": weight,
                    "batch_probability": batch_probability[i],
                    "online_probability": None if p_online is None else p_online[i],
                },
                "reasons": reasons[i],
                "explained": explained[i],
                "rules": matched[i],
                "latency_ms": latency_ms,
            }
            if tx.account_id is None:
                del record["account_id"]  # only when the payment named one
            if tx.customer_id is None:
                del record["customer_id"]
            if self.shared_signals and (used := _shared_used(tx, self.shared_signals)):
                record["shared_signals"] = used  # the record says which shared states it read
            if shadow is not None:
                version, p_shadow = shadow
                s_score, s_level, s_decision = shadow_policy.assess(p_shadow[i])
                # Recorded for comparison with the champion's score-based decision, never acted on.
                record["shadow"] = {
                    "version": version,
                    "probability": p_shadow[i],
                    "risk_score": s_score,
                    "risk_level": s_level.value,
                    "decision": s_decision.value,
                }
                tally[_agreement(by_score[scores[i]][1], s_decision.value)] += 1
            record[VECTOR_KEY] = vectors[i]  # last: the topic's record is the stored one cut here
            out.append(record)
        report = BatchReport(model.version, x, p_batch, tally)
        return Decided(out, report, [(levels[i], decisions[i], scored_us) for i in range(n)])

    async def score(
        self, transactions: Sequence[Transaction], positions: Mapping[str, Position] | None = None
    ) -> tuple[list[ScoredEvent], BatchReport]:
        """Score a batch with ``live``'s snapshot; duplicates within it are scored once.

        ``positions`` (event reference → Kafka source and offset of its first copy) lets
        the feature store repair a batch that a crash interrupted (docs/redis-keys.md).
        Events are told apart by account and id: another account's id is another event.
        The caller refreshes ``live`` before the batch, not before each call: a batch
        halved to find a poison event is still scored by one version.
        """
        state = self.live.snapshot()
        started = self.clock()
        first: dict[str, Transaction] = {}
        for tx in transactions:
            first.setdefault(event_ref(tx.account_id, tx.event_id), tx)  # the first copy wins
        unique = list(first.values())
        refs = list(first)
        if not unique:
            return [], BatchReport(state.model.version)
        where = None if positions is None else [positions[ref] for ref in refs]
        raw = await self.features.record_and_fetch(unique, where)
        decided = self.decide(unique, raw, started, state=state)
        bodies = [(d["event_id"], orjson.dumps(d)) for d in decided.records]
        stored = await self.decisions.put_new(
            [(tx, body) for tx, (_, body) in zip(unique, bodies, strict=True)], index=decided.index
        )
        out = []
        for ref, decision, (eid, ours), body in zip(refs, decided.records, bodies, stored, strict=True):
            # A stored record may predate this attempt: its decision, not ours, is published.
            record = decision if body == ours else orjson.loads(body)
            out.append(ScoredEvent(ref, eid, body, record["risk_level"], record["decision"]))
        return out, decided.report


@dataclass(frozen=True)
class Decided:
    """``decide()``'s answer: the records, the batch's report and, per record, its index
    fields (risk level, decision, ``scored_at`` in µs) for the decision store."""

    records: list[dict[str, Any]]
    report: BatchReport
    index: list[tuple[str, str, int]]


@functools.lru_cache(maxsize=16)
def _decision_table(policy: RiskPolicy) -> tuple[tuple[str, str], ...]:
    """(level, decision) of the policy, with the model's review capacity, for every score 0–100."""
    return tuple((policy.level(s).value, policy.decision(s).value) for s in range(101))


def _shadow(shadow: BatchModel | None, x: Any) -> tuple[str, list[float]] | None:
    """The shadow candidate's probabilities (one call per batch), or None."""
    if shadow is None:
        return None
    return shadow.version, shadow.predict_proba(x).tolist()


def _shared_used(tx: Transaction, shared: list[str]) -> list[str]:
    """The shared entity kinds this payment names."""
    return [k for k in shared if getattr(tx, _ENTITY_FIELDS[k])]


_ENTITY_FIELDS = {"card": "card_id", "customer": "customer_id", "merchant": "merchant_id",
                  "device": "device_id", "ip": "ip", "email": "email"}  # fmt: skip


def _agreement(champion: str, shadow: str) -> str:
    """``same``, or whether the shadow would have been stricter or more lenient."""
    if champion == shadow:
        return "same"
    return "stricter" if _SEVERITY[shadow] > _SEVERITY[champion] else "more_lenient"


_SEVERITY = {DecisionKind.ALLOW.value: 0, DecisionKind.REVIEW.value: 1, DecisionKind.BLOCK.value: 2}
ALERTING = frozenset({DecisionKind.REVIEW.value, DecisionKind.BLOCK.value})


def _risk_scores(probability: list[float]) -> list[int]:
    """``risk_score`` of every probability (the same float arithmetic, on the whole batch)."""
    p = np.asarray(probability, dtype=np.float64)
    if np.isnan(p).any():
        raise ValueError("probability is NaN")
    scores: list[int] = np.clip(np.floor(p * 100 + 0.5), 0, 100).astype(np.int64).tolist()
    return scores
