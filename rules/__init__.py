"""The rule language of issue 6: analysts' rules on top of the model, in the
spirit of Stripe Radar (``block if :risk_score: >= 90``, ``review if :amount: >
1000 and :card_country: != :ip_country:``, ``allow if :card_id: in
@trusted_cards``). ``compile_rule`` parses and type-checks a rule once
(``RuleSyntaxError`` gives the position and cause of any mistake) into a
``Rule`` that evaluates fast and never raises (a comparison with a missing or
None value is false); ``RuleSet.decide`` applies
Radar's precedence (allow, then block, then review; the first match decides)
and reports every matching rule; ``store.rules.RuleStore`` keeps rules and named
lists in Redis, versioned with a history, and ``pipeline.live_rules.LiveRules`` reloads them
in a running worker when the version changes; ``backtest`` shows what a candidate rule would
have matched on labelled history.

>>> from rules import RuleSet, compile_rule
>>> RuleSet([compile_rule("review if :amount: > 1000")]).decide({"amount": 1500}, {})
('review', ['review if :amount: > 1000'])
"""

from rules.attributes import ATTRIBUTE_TYPES, rule_values
from rules.backtest import BacktestResult, backtest
from rules.compiler import ACTIONS_ORDER, Rule, RuleSet, compile_rule
from rules.errors import RuleSyntaxError

__all__ = [
    "ACTIONS_ORDER",
    "ATTRIBUTE_TYPES",
    "BacktestResult",
    "Rule",
    "RuleSet",
    "RuleSyntaxError",
    "backtest",
    "compile_rule",
    "rule_values",
]
