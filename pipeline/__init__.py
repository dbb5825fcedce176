"""The scoring pipeline that the worker, `riskwire replay` and `POST /v1/score`
share: decode and validate, one Redis round trip for features, batch model and
SHAP calls, the blend with the online learner, reasons and decision, and the
write-once decision store, with the live state they score with (``LiveState``,
refreshed once per batch by each of them); and label learning, which teaches the online learner
each label exactly once through a compare-and-set checkpoint in Redis.
"""

from pipeline.decision_store import DecisionStore, decision_key
from pipeline.decode import Rejected, decode, decode_label
from pipeline.label_learning import LabelInput, LabelLearning, LearnOutcome
from pipeline.live_state import BatchReport, LiveState, Refreshed, Snapshot
from pipeline.online_checkpoint import OnlineCheckpoint
from pipeline.online_follower import OnlineFollower
from pipeline.scoring import Decided, ScoredEvent, ScoringPipeline

__all__ = [
    "BatchReport",
    "Decided",
    "DecisionStore",
    "LabelInput",
    "LabelLearning",
    "LearnOutcome",
    "LiveState",
    "OnlineCheckpoint",
    "OnlineFollower",
    "Refreshed",
    "Rejected",
    "ScoredEvent",
    "ScoringPipeline",
    "Snapshot",
    "decision_key",
    "decode",
    "decode_label",
]
