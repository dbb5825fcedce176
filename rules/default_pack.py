"""The default rules pack: a cold start before there are labels to learn from.

A new deployment has no chargebacks yet, so its model knows little. These rules
send the textbook signs to review, whatever the score: an amount far above the
card's own normal, a new device or email with an IP country that is not the
card's, and card testing (a run of tiny payments within minutes). Off by
default; ``RISKWIRE_DEFAULT_RULES=true`` adds them to the rules of the store
(they are not stored, so they cannot be edited away by accident: switch the
setting off once the model has enough labels, see README "Cold start").

>>> from rules.attributes import rule_values
>>> pack = default_pack()
>>> pack.decide(rule_values({"amount": 700.0}, {"amount_to_card_avg_30d": 70.9, "card_count_30d": 12.0}), {})
('review', ['review if :amount_to_card_avg_30d: >= 10 and :card_count_30d: >= 3'])
"""

from __future__ import annotations

from rules.compiler import Rule, RuleSet, compile_rule

__all__ = ["DEFAULT_RULES", "default_pack", "default_rules"]

DEFAULT_RULES: tuple[str, ...] = (
    # Far above the card's own normal (needs a few earlier payments to know it).
    "review if :amount_to_card_avg_30d: >= 10 and :card_count_30d: >= 3",
    # A device or email never seen in 30 days, from an IP in another country than the card's.
    "review if :card_ip_country_mismatch: == 1 and (:device_count_30d: == 0 or :email_count_30d: == 0)",
    # Card testing: five or more payments in 10 minutes, this one tiny.
    "review if :card_count_10m: >= 5 and :amount: < 2",
)


def default_rules() -> list[Rule]:
    return [compile_rule(text, rule_id=f"default-{i + 1}") for i, text in enumerate(DEFAULT_RULES)]


def default_pack() -> RuleSet:
    return RuleSet(default_rules())
