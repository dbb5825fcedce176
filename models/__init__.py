"""Models: training the XGBoost batch model from history with the serving
feature code, the on-disk registry that verifies every artefact's SHA-256
before it is deserialised, and the batch model that scores and explains a
whole micro-batch per call. (The online River model and drift-driven blending
arrive with issue 5.)
"""

from models.batch_model import BatchModel, sigmoid
from models.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from models.registry import ModelArtefact, ModelRegistry
from models.training import TrainingResult, TrainingSet, build_training_set, train

__all__ = [
    "BatchModel",
    "ModelArtefact",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "ModelRegistry",
    "TrainingResult",
    "TrainingSet",
    "build_training_set",
    "sigmoid",
    "train",
]
