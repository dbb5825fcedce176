"""Building the scoring pipeline from settings: one recipe for worker, API and replay."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from contracts.identity import load_names
from contracts.settings import Settings
from explain.risk_score import RiskPolicy
from models.batch_model import BatchModel
from models.blend import BlendConfig
from models.learner import OnlineLearner
from models.loading import ModelRegistry
from models.online import OnlineConfig
from models.registry import ModelArtefact
from pipeline.label_learning import LabelLearning
from pipeline.live_rules import LiveRules
from pipeline.live_state import LiveState, shadow_model
from pipeline.online_follower import OnlineFollower
from pipeline.scoring import ScoringPipeline
from rules.default_pack import default_rules
from store.at_rest import AtRest
from store.connect import AsyncRedis
from store.decisions import DecisionStore, DecisionWriter
from store.feature_state import FeatureStore, OnlineFeatureStore
from store.online_checkpoint import OnlineCheckpoint
from store.rules import RuleStore

log = logging.getLogger(__name__)


def feature_store(settings: Settings, client: AsyncRedis) -> OnlineFeatureStore:
    return OnlineFeatureStore(
        client,
        dedupe_ttl_s=settings.event_dedupe_ttl_s,
        grace_ms=settings.late_grace_s * 1000,
        names=load_names(settings),
    )


def build_pipeline(
    settings: Settings,
    client: AsyncRedis,
    model_version: str | None = None,
    *,
    online: bool | None = None,
    features: FeatureStore | None = None,
    indexed: bool = True,
    follow: bool = False,
    decisions: DecisionWriter | None = None,
) -> ScoringPipeline:
    """The pipeline on ``client`` with a registered model (raises ``ModelError`` without one).

    ``online`` (default: ``settings.online_learning``) blends with the online
    learner's latest checkpoint; off, the batch model decides alone. ``features``
    replaces the Redis feature store, ``indexed=False`` the searchable decision store
    with records only (a private replay); ``decisions`` is a store the caller already
    holds (the API's, so one PostgreSQL pool serves both). ``follow`` (the worker, the API) follows the
    registry's promotions and shadow pointer (``pipeline.live_state``).
    """
    registry = ModelRegistry(settings.model_dir)
    use_online = settings.online_learning if online is None else online
    return ScoringPipeline(
        features=features or feature_store(settings, client),
        decisions=decisions or decision_store(settings, client, indexed=indexed),
        shared_signals=settings.shared_signals,
        live=LiveState(
            BatchModel(registry.load(model_version)),
            shadow=shadow_model(registry),
            rules=LiveRules(RuleStore(client), extra=default_rules() if settings.default_rules else ()),
            online=(
                OnlineFollower(
                    checkpoint(settings, client), OnlineLearner.from_state, every_s=settings.online_refresh_s
                )
                if use_online
                else None
            ),
            registry=registry if follow else None,
        ),
        policy=RiskPolicy(
            elevated=settings.elevated_threshold,
            highest=settings.highest_threshold,
            capacity=settings.review_capacity_policy,
        ),
        top_reasons=settings.top_reasons,
        lowering_reasons=settings.lowering_reasons,
        explain_all=settings.explain_all,
    )


def decision_store(settings: Settings, client: AsyncRedis, *, indexed: bool = True) -> DecisionWriter:
    """PostgreSQL's (``store.pg_decisions``) when RISKWIRE_DATABASE_URL is set and the
    records are searchable, else Redis's; a private replay (``indexed=False``) keeps Redis."""
    names, cipher = load_names(settings), AtRest.from_settings(settings)
    if settings.database_url is not None and indexed:
        from store.database import LazyPool
        from store.pg_decisions import PgDecisionStore

        pool = LazyPool(settings.database_url.get_secret_value())
        return PgDecisionStore(pool, names=names, cipher=cipher)
    return DecisionStore(client, ttl_s=settings.decision_ttl_s, indexed=indexed, names=names, cipher=cipher)


def checkpoint(settings: Settings, client: AsyncRedis) -> OnlineCheckpoint:
    return OnlineCheckpoint(
        client,
        seen_ttl_s=settings.online_seen_ttl_s,
        pending_ttl_s=settings.pending_label_ttl_s,
        pending_max=settings.pending_label_max,
        cipher=AtRest.from_settings(settings),
    )


def build_label_learning(
    settings: Settings,
    client: AsyncRedis,
    model_version: str | None = None,
    *,
    features: FeatureStore | None = None,
) -> LabelLearning:
    """Label learning on ``client``: label features plus the online learner's checkpoint."""
    artefact = ModelRegistry(settings.model_dir).load(model_version)
    return LabelLearning(
        client,
        features or feature_store(settings, client),
        checkpoint(settings, client),
        new_learner=first_learner(settings, artefact),
        load_learner=OnlineLearner.from_state,
        pending_retry=settings.online_pending_retry,
        cipher=AtRest.from_settings(settings),
        records=_pg_records(settings),
    )


def _pg_records(settings: Settings) -> Callable[[list[str]], Awaitable[list[bytes | None]]] | None:
    """Where label learning reads decision records: PostgreSQL when they live there."""
    if settings.database_url is None:
        return None
    from store.database import LazyPool
    from store.pg_decisions import PgDecisionStore

    pool = LazyPool(settings.database_url.get_secret_value(), max_size=2)
    return PgDecisionStore(pool, names=load_names(settings), cipher=AtRest.from_settings(settings)).read


def first_learner(settings: Settings, artefact: ModelArtefact) -> Callable[[], OnlineLearner]:
    """Where learning starts when Redis holds no checkpoint yet.

    The registry version's own online state if it ships one, else a fresh
    learner whose probabilities are moved to the traffic's fraud share (the
    labels feed is mostly chargebacks; the batch model's card says how rare fraud is).
    """
    state = artefact.online_state()
    if state is not None:
        return lambda: OnlineLearner.from_state(state)
    target = settings.online_target_share or _training_fraud_share(artefact.manifest)
    online = OnlineConfig(learning_rate=settings.online_learning_rate, target_share=target)
    blend = BlendConfig(w_min=settings.blend_w_min, w_max=settings.blend_w_max, warmup=settings.blend_warmup)
    return lambda: OnlineLearner.create(
        online=online, blend=blend, drift_delta=settings.drift_delta, origin=artefact.version
    )


def _training_fraud_share(manifest: dict[str, object]) -> float | None:
    """The batch model's estimate of the traffic's fraud share (labels made complete)."""
    metrics = manifest.get("metrics")
    if not isinstance(metrics, dict):
        return None
    estimated = metrics.get("train_fraud_rate_estimated")
    if isinstance(estimated, float) and 0 < estimated < 1:
        return estimated
    rows, frauds = metrics.get("train_rows"), metrics.get("train_frauds")
    if isinstance(rows, int) and isinstance(frauds, int) and rows > 0 and 0 < frauds < rows:
        return frauds / rows
    return None
