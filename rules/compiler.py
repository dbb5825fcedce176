"""Compile a rule once into Python closures; evaluate it many times.

Evaluation never raises: a comparison with a missing (absent or None) value,
a value of the wrong type at run time, or an unknown list is simply false.
``not`` inverts that false, so ``not :amount: > 5`` is true when the amount
is missing, while ``:amount: <= 5`` is false; ``!=`` and ``not in`` are false
on missing values too.

>>> rule = compile_rule("review if :amount: > 1000 and :card_country: != :ip_country:")
>>> rule.matches({"amount": 1240.0, "card_country": "FR", "ip_country": "NG"}, {})
True
>>> rule.matches({"amount": 1240.0, "card_country": "FR"}, {})
False
>>> rules = RuleSet([compile_rule("block if :risk_score: >= 90"),
...                  compile_rule("allow if :card_id: in @trusted_cards")])
>>> rules.decide({"risk_score": 95, "card_id": "c1"}, {"trusted_cards": frozenset({"c1"})})
('allow', ['allow if :card_id: in @trusted_cards', 'block if :risk_score: >= 90'])
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.attributes import ATTRIBUTES_PREFIX, lookup
from rules.parser import ACTIONS, Attr, Compare, Const, Node, parse

Lists = Mapping[str, frozenset[str]]
Values = Mapping[str, object]
Predicate = Callable[[Values, Lists], bool]
Getter = Callable[[Values], object]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _getter(operand: Attr | Const) -> Getter:
    if isinstance(operand, Const):
        value = operand.value
        return lambda _values: value
    name = operand.name
    if name.startswith(ATTRIBUTES_PREFIX):
        return lambda values: lookup(values, name)
    return lambda values: values.get(name)


def _compare(node: Compare) -> Predicate:
    left = _getter(node.left)
    if node.op in ("in", "not in"):
        want = node.op == "in"
        if isinstance(node.right, str):
            list_name = node.right

            def in_list(values: Values, lists: Lists) -> bool:
                x = left(values)
                members = lists.get(list_name)
                if members is None or isinstance(x, bool) or not isinstance(x, str | int):
                    return False
                return (str(x) in members) is want

            return in_list
        assert isinstance(node.right, tuple)
        literals = frozenset(c.value for c in node.right)

        def in_literals(values: Values, _lists: Lists) -> bool:
            x = left(values)
            if x is None:
                return False
            try:
                return (x in literals) is want
            except TypeError:  # unhashable value
                return False

        return in_literals
    assert isinstance(node.right, Attr | Const)
    right, op = _getter(node.right), _OPS[node.op]

    def compare(values: Values, _lists: Lists) -> bool:
        x, y = left(values), right(values)
        if x is None or y is None:
            return False
        try:
            return bool(op(x, y))
        except TypeError:
            return False

    return compare


def _compile(node: Node) -> Predicate:
    if isinstance(node, Compare):
        return _compare(node)
    parts = tuple(_compile(item) for item in node.items)
    if node.op == "not":
        inner = parts[0]
        return lambda values, lists: not inner(values, lists)
    if node.op == "and":
        return lambda values, lists: all(p(values, lists) for p in parts)
    return lambda values, lists: any(p(values, lists) for p in parts)


#: Radar's precedence.
ACTIONS_ORDER: tuple[str, ...] = ("allow", "block", "review")
assert set(ACTIONS_ORDER) == set(ACTIONS)


@dataclass(frozen=True)
class Rule:
    """A compiled rule: ``action`` (allow, review, block), its source ``text``
    and, when it came from a ``RuleStore``, its ``rule_id``."""

    action: str
    text: str
    predicate: Predicate = field(repr=False, compare=False)
    rule_id: str | None = None

    def matches(self, values: Values, lists: Lists) -> bool:
        """True when the condition holds for ``values`` with the named ``lists``."""
        return self.predicate(values, lists)


def compile_rule(text: str, known_lists: Collection[str] | None = None, rule_id: str | None = None) -> Rule:
    """Parse, type-check and compile ``text``; raise ``RuleSyntaxError`` if malformed.
    With ``known_lists`` given, a ``@list`` outside it is an error."""
    parsed = parse(text, known_lists)
    return Rule(parsed.action, text, _compile(parsed.condition), rule_id)


class RuleSet:
    """Rules decided in Radar's order: allow rules first, then block, then review;
    within an action, in the order given. The first match decides."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        given = list(rules)
        self.rules: tuple[Rule, ...] = tuple(
            r for action in ACTIONS_ORDER for r in given if r.action == action
        )

    def __len__(self) -> int:
        return len(self.rules)

    def decide(self, values: Values, lists: Lists) -> tuple[str | None, list[str]]:
        """The deciding action (None when no rule matches) and the texts of
        every matching rule, in precedence order."""
        matched = [rule for rule in self.rules if rule.predicate(values, lists)]
        return (matched[0].action if matched else None), [rule.text for rule in matched]
