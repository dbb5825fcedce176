"""The one configuration class of riskwire (environment prefix ``RISKWIRE_``).

When ``RISKWIRE_KAFKA_BOOTSTRAP`` / ``RISKWIRE_REDIS_URL`` are unset, every
command talks to the embedded services at their default loopback ports, which
is where ``riskwire services`` starts them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.records import ENTITY_KINDS


class Settings(BaseSettings):
    """Everything configurable, with the defaults of DESIGN.md.

    >>> Settings(kafka_bootstrap="127.0.0.1:9999").bootstrap
    '127.0.0.1:9999'
    >>> Settings(kafka_bootstrap=None, embedded_kafka_port=19092).bootstrap
    '127.0.0.1:19092'
    """

    model_config = SettingsConfigDict(env_prefix="RISKWIRE_", extra="ignore")

    # Services. Unset means "the embedded ones at their default ports".
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    # True: ``redis_url`` names any node of a Redis Cluster (db 0 only); see README, "Redis Cluster".
    redis_cluster: bool = False
    embedded_kafka_port: int = 19092
    # PostgreSQL, the system of record for decision records (issue 18): any PostgreSQL 14+,
    # ``postgresql://user:password@host:port/db``. Unset: decisions stay in Redis.
    database_url: SecretStr | None = None
    # Decision records are kept this many days (whole day partitions are dropped).
    decision_retention_days: int = Field(default=90, ge=1)
    embedded_redis_port: int = 16379

    # Topics.
    topic_transactions: str = "transactions"
    topic_labels: str = "labels"
    topic_scores: str = "scores"
    topic_alerts: str = "alerts"
    topic_dlq: str = "dlq"
    topic_partitions: int = Field(default=4, ge=1)

    # Worker.
    app_id: str = "riskwire"
    batch_max_events: int = Field(default=500, ge=1)
    batch_max_ms: float = Field(default=20.0, gt=0)
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    max_future_skew_s: float = Field(default=24 * 3600.0, ge=0)
    late_grace_s: int = Field(default=3600, ge=0)
    # Tansu makes a joining member wait about half the session timeout (DESIGN.md),
    # and a dead worker's partitions move after it: keep it short.
    consumer_session_timeout_s: float = Field(default=10.0, gt=1.0)
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = 6066
    worker_stall_after_s: float = Field(default=60.0, gt=0)
    max_fetch_bytes: int = Field(default=16 * 1024 * 1024, ge=1024 * 1024)
    redis_timeout_s: float = Field(default=5.0, gt=0)

    # Stores.
    var_dir: Path = Path("var")
    model_dir: Path = Path("var/models")
    decision_ttl_s: int = Field(default=90 * 24 * 3600, ge=60)
    event_dedupe_ttl_s: int = Field(default=35 * 24 * 3600, ge=60)

    # Decisions (Radar's defaults: elevated at 65, highest at 75).
    elevated_threshold: int = Field(default=65, ge=0, le=100)
    highest_threshold: int = Field(default=75, ge=0, le=100)
    top_reasons: int = Field(default=3, ge=1)
    lowering_reasons: int = Field(default=2, ge=0)

    # Online learning and drift (issue 5; the blend rule is in models/blend.py).
    online_learning: bool = True
    online_refresh_s: float = Field(default=1.0, gt=0)
    online_seen_ttl_s: int = Field(default=180 * 24 * 3600, ge=60)
    online_pending_retry: int = Field(default=200, ge=0)
    labels_batch_max_events: int = Field(default=500, ge=1)
    blend_w_min: float = Field(default=0.0, ge=0, le=1)
    blend_w_max: float = Field(default=0.7, ge=0, le=1)
    blend_warmup: int = Field(default=50, ge=0)
    online_learning_rate: float = Field(default=0.02, gt=0)
    # The traffic's fraud share, for a labels feed that is mostly chargebacks;
    # None: the batch model's training fraud rate (from its model card).
    online_target_share: float | None = Field(default=None, gt=0, lt=1)
    drift_delta: float = Field(default=0.002, gt=0, lt=1)
    # Run on a drift of the online learner's detector (e.g. a retraining job), at most
    # once per interval; the detector's JSON is in RISKWIRE_DRIFT_EVENT. None: no command.
    drift_retrain_command: str | None = None
    drift_retrain_min_interval_s: float = Field(default=3600.0, ge=0)
    psi_alert_threshold: float = Field(default=0.25, gt=0)
    psi_min_observed: float = Field(default=1000.0, ge=0)
    psi_half_life: float = Field(default=5000.0, gt=0)
    psi_check_every_s: float = Field(default=60.0, gt=0)

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # API: access, limits, search and reviews (issue 8; key layout in docs/redis-keys.md).
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    api_rate_per_s: float = Field(default=50.0, gt=0)
    api_rate_burst: int = Field(default=50, ge=1)
    api_page_default: int = Field(default=50, ge=1)
    api_page_max: int = Field(default=200, ge=1)
    api_search_scan_max: int = Field(default=5000, ge=100)
    api_label_batch_max: int = Field(default=1000, ge=1)
    api_audit_max_entries: int = Field(default=1_000_000, ge=1000)
    api_kafka_timeout_s: float = Field(default=10.0, gt=0)
    api_probe_timeout_s: float = Field(default=2.0, gt=0)
    api_score_batch_max: int = Field(default=100, ge=1)

    # Decision records and on-demand explanations (hot-path issue, points 2 and 3).
    # The records on `scores`/`alerts` leave out the feature vector unless this is true
    # (the stored record, served by the API, always keeps it).
    scores_include_features: bool = False
    # Boosters the API keeps loaded, by version, to explain allowed payments on demand.
    api_model_cache_size: int = Field(default=4, ge=1)
    # Compute every payment's reasons in the worker (SHAP on the hot path for all rows),
    # not only the alerts'.
    explain_all: bool = False

    # Tenant isolation and pseudonymised identifiers (issue 14; README, "Security").
    # The HMAC key for card, customer, merchant, device, IP and email values in Redis key
    # names, indexes and metadata (hex or text). Unset: one is generated under var_dir.
    pseudonym_key: SecretStr | None = None
    # Entity kinds whose feature state every account shares (comma-separated, e.g.
    # "card,device"); the others are per account.
    shared_signals: Annotated[frozenset[str], NoDecode] = frozenset()

    @field_validator("shared_signals", mode="before")
    @classmethod
    def _kinds(cls, value: object) -> object:
        if isinstance(value, str):
            value = {part.strip() for part in value.split(",") if part.strip()}
        if isinstance(value, (set, frozenset, list, tuple)):
            unknown = sorted(set(value) - set(ENTITY_KINDS))
            if unknown:
                raise ValueError(f"unknown entity kinds {unknown}: use some of {', '.join(ENTITY_KINDS)}")
        return value

    # Security (issue 14; README, "Security"). Secrets are SecretStr: never logged or printed.
    # Kafka: applied alike to Faust, aiokafka and confluent-kafka (contracts/kafka_security.py).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    # API keys are stored as HMAC-SHA-256(pepper, SHA-256(secret)): Redis write access alone
    # cannot mint one. None: one is generated once and kept in {var_dir}/api-key-pepper.
    api_key_pepper: SecretStr | None = None
    # Encryption at rest of stored decisions, reviews and labels (AES-256-GCM): "kid:base64key"
    # entries, comma-separated; the first encrypts, all decrypt (rotation). None: off.
    at_rest_keys: SecretStr | None = None
    # Labels waiting for their event: dropped after this long, oldest dropped beyond the cap.
    pending_label_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    pending_label_max: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"Kafka {self.kafka_security_protocol} needs RISKWIRE_KAFKA_SASL_USERNAME and "
                "RISKWIRE_KAFKA_SASL_PASSWORD"
            )
        return self

    # Operations (issue 15; item 6 of issue 14): the worker's listening address, and how
    # long a stopping worker may take before it exits anyway (unfinished work uncommitted).
    worker_web_bind: str = "127.0.0.1"
    worker_stop_timeout_s: float = Field(default=8.0, gt=0)
    # Replication of the topics `riskwire topics create` makes (3 on a production cluster).
    topic_replication: int = Field(default=1, ge=1)
    # PSI gauges for the k features drifting most (plus the score and riskwire_psi_max).
    psi_top_k: int = Field(default=5, ge=0)

    # Detection quality (issue 12): training refusal, decision policy, cold start.
    # `riskwire train` does not make a model current whose validation window has fewer
    # frauds than this (its metrics and calibration would be noise), unless --force.
    train_min_validation_frauds: int = Field(default=30, ge=1)
    # Decisions by review capacity (models/decision_policy.py): block where the expected
    # precision reaches block_precision, review the next reviews_per_day riskiest a day.
    # Off: decisions follow the levels (review from elevated_threshold, block from highest).
    review_capacity_policy: bool = True
    # `riskwire train --unsupervised`: the share of traffic assumed unusual (models/anomaly.py).
    anomaly_contamination: float = Field(default=0.005, gt=0, lt=1)
    block_precision: float = Field(default=0.9, gt=0, le=1)
    reviews_per_day: float = Field(default=20.0, ge=0)
    # Cold start: add the default rules pack (rules/default_pack.py) to the stored rules.
    default_rules: bool = False

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap address in use."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.embedded_kafka_port}"

    @property
    def redis(self) -> str:
        """The Redis URL in use."""
        return self.redis_url or f"redis://127.0.0.1:{self.embedded_redis_port}/0"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
