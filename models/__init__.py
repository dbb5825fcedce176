"""Models: training the XGBoost batch model from history with the serving
feature code (a time split that respects label delay, class weighting and an
isotonic calibration stored as JSON knots), the on-disk registry that verifies
every artefact's SHA-256 before it is deserialised, the batch model that scores
and explains a whole micro-batch per call, and the online side: a River
logistic regression learning from labels, ADWIN and PSI drift detection, and
the rule that blends the two models' probabilities (``OnlineLearner``).
"""

from models.batch_model import BatchModel, sigmoid
from models.blend import BlendConfig, Blender
from models.calibration import Calibration, fit_isotonic, reliability_error
from models.drift import DriftEvent, ErrorDrift, PsiMonitor, batch_error
from models.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from models.learner import BlendResult, OnlineLearner
from models.loading import ModelRegistry
from models.online import OnlineConfig, OnlineModel
from models.reference import reference_distributions
from models.registry import ModelArtefact, ModelStore
from models.training import TimeSplit, TrainingResult, TrainingSet, build_training_set, time_split, train

__all__ = [
    "BatchModel",
    "BlendConfig",
    "BlendResult",
    "Blender",
    "Calibration",
    "DriftEvent",
    "ErrorDrift",
    "ModelArtefact",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelStore",
    "OnlineConfig",
    "OnlineLearner",
    "OnlineModel",
    "PsiMonitor",
    "TimeSplit",
    "TrainingResult",
    "TrainingSet",
    "batch_error",
    "build_training_set",
    "fit_isotonic",
    "reference_distributions",
    "reliability_error",
    "sigmoid",
    "time_split",
    "train",
]
