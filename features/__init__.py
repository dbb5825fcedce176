"""Online features: the catalogue declared once, the Redis online store that
records events and returns their window aggregates in one atomic round trip per
micro-batch (and labels in one more per label batch), the in-memory offline
engine that reproduces those aggregates byte for byte for training, and the
vectorizer that turns both into the model's feature matrix.
"""

from features.aggregates import Aggregates, parse_aggregates
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES, FEATURES, FEATURES_BY_NAME, Entity, Feature
from features.event_time import in_event_time
from features.offline import OfflineFeatureEngine
from features.online_store import OnlineFeatureStore, SyncOnlineFeatureStore
from features.vectorize import FeatureMatrix, vectorize

__all__ = [
    "FEATURES",
    "FEATURES_BY_NAME",
    "FEATURE_INDEX",
    "FEATURE_NAMES",
    "Aggregates",
    "Entity",
    "Feature",
    "FeatureMatrix",
    "OfflineFeatureEngine",
    "OnlineFeatureStore",
    "SyncOnlineFeatureStore",
    "in_event_time",
    "parse_aggregates",
    "vectorize",
]
