"""Online features: the catalogue declared once, the feature kernel that computes every
window of a micro-batch in the worker (numba), the
in-memory twins for training and replay that run the same kernel, and the vectorizer
that turns the raw aggregates into the model's feature matrix.
"""

from features.aggregates import Aggregates, parse_aggregates
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES, FEATURES, FEATURES_BY_NAME, Entity, Feature
from features.event_time import in_event_time
from features.memory_store import MemoryFeatureStore
from features.offline import OfflineFeatureEngine
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
    "MemoryFeatureStore",
    "OfflineFeatureEngine",
    "in_event_time",
    "parse_aggregates",
    "vectorize",
]
