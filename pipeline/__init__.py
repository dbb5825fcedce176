"""The scoring pipeline that the worker, `riskwire replay` and `POST /v1/score`
share: decode and validate, one Redis round trip for features, batch model and
SHAP calls, the blend with the online learner, reasons and decision, and the
write-once decision store; and label learning, which teaches the online learner
each label exactly once through a compare-and-set checkpoint in Redis.
"""

from pipeline.decision_store import DecisionStore, decision_key
from pipeline.decode import Rejected, decode, decode_label
from pipeline.label_learning import LabelInput, LabelLearning, LearnOutcome
from pipeline.online_checkpoint import OnlineCheckpoint
from pipeline.online_follower import OnlineFollower
from pipeline.scoring import ScoredEvent, ScoringPipeline

__all__ = [
    "DecisionStore",
    "LabelInput",
    "LabelLearning",
    "LearnOutcome",
    "OnlineCheckpoint",
    "OnlineFollower",
    "Rejected",
    "ScoredEvent",
    "ScoringPipeline",
    "decision_key",
    "decode",
    "decode_label",
]
