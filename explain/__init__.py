"""Explanations: exact TreeSHAP contributions of the batch model, turned into
plain-language reasons, the online model's share of the blend as its own
reason line, and the 0–100 risk score with its level and default decision.
"""

from explain.decision_reasons import decision_reasons
from explain.online_share import online_share_reason
from explain.reasons import TEMPLATES, explain_row, lowering_reasons, reason_text, top_reasons
from explain.risk_score import RiskPolicy, risk_score

__all__ = [
    "TEMPLATES",
    "RiskPolicy",
    "decision_reasons",
    "explain_row",
    "lowering_reasons",
    "online_share_reason",
    "reason_text",
    "risk_score",
    "top_reasons",
]
