"""The scoring pipeline that the worker, `riskwire replay` and `POST /v1/score`
share: decode and validate, one Redis round trip for features, batch model and
SHAP calls, reasons and decision, and the write-once decision store.
"""

from pipeline.decision_store import DecisionStore, decision_key
from pipeline.decode import Rejected, decode
from pipeline.scoring import ScoredEvent, ScoringPipeline

__all__ = ["DecisionStore", "Rejected", "ScoredEvent", "ScoringPipeline", "decision_key", "decode"]
