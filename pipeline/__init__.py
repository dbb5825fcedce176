"""The scoring pipeline that the worker, `riskwire replay` and `POST /v1/score`
share: decode and validate, features for the micro-batch, batch model and SHAP
calls, the blend with the online learner, reasons and decision, written once to the
decision store (``store.decisions``), with the live state they score with
(``LiveState``, refreshed once per batch by each of them); and label learning, which
teaches the online learner each label exactly once through a compare-and-set
checkpoint (``store.online_checkpoint``).
"""

from pipeline.decode import Rejected, decode, decode_label
from pipeline.label_learning import LabelInput, LabelLearning, LearnOutcome
from pipeline.live_state import BatchReport, LiveState, Refreshed, Snapshot
from pipeline.online_follower import OnlineFollower
from pipeline.scoring import Decided, ScoredEvent, ScoringPipeline

__all__ = [
    "BatchReport",
    "Decided",
    "LabelInput",
    "LabelLearning",
    "LearnOutcome",
    "LiveState",
    "OnlineFollower",
    "Refreshed",
    "Rejected",
    "ScoredEvent",
    "ScoringPipeline",
    "Snapshot",
    "decode",
    "decode_label",
]
