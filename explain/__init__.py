"""Explanations: exact TreeSHAP contributions of the batch model, turned into
plain-language reasons, and the 0–100 risk score with its level and default
decision.
"""

from explain.reasons import TEMPLATES, lowering_reasons, reason_text, top_reasons
from explain.risk_score import RiskPolicy, risk_score

__all__ = ["TEMPLATES", "RiskPolicy", "lowering_reasons", "reason_text", "risk_score", "top_reasons"]
