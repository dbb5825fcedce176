"""Evaluation: precedence, boolean logic, missing values, lists, and a
property test against a direct Python evaluation."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import RuleSet, compile_rule

NO_LISTS: dict[str, frozenset[str]] = {}


def test_precedence_allow_beats_block_beats_review() -> None:
    review = compile_rule("review if :amount: > 10")
    block = compile_rule("block if :amount: > 100")
    allow = compile_rule("allow if :card_id: == 'vip'")
    rules = RuleSet([review, block, allow])  # given in the "wrong" order on purpose
    assert rules.decide({"amount": 500, "card_id": "vip"}, NO_LISTS) == (
        "allow",
        [allow.text, block.text, review.text],
    )
    assert rules.decide({"amount": 500, "card_id": "c"}, NO_LISTS) == ("block", [block.text, review.text])
    assert rules.decide({"amount": 50, "card_id": "c"}, NO_LISTS) == ("review", [review.text])
    assert rules.decide({"amount": 5, "card_id": "c"}, NO_LISTS) == (None, [])
    assert RuleSet().decide({"amount": 5}, NO_LISTS) == (None, [])


def test_first_match_in_given_order_within_an_action() -> None:
    first = compile_rule("block if :amount: > 1")
    second = compile_rule("block if :amount: > 2")
    assert RuleSet([second, first]).decide({"amount": 3}, NO_LISTS) == ("block", [second.text, first.text])


A, B, C = ":card_count_1h: == 1", ":merchant_count_1h: == 1", ":is_weekend: == 1"
TRUTH: list[tuple[str, Callable[[bool, bool, bool], bool]]] = [
    (f"{A} and {B}", lambda a, b, c: a and b),
    (f"{A} or {B}", lambda a, b, c: a or b),
    (f"not {A}", lambda a, b, c: not a),
    (f"{A} or {B} and {C}", lambda a, b, c: a or (b and c)),
    (f"{A} and {B} or {C}", lambda a, b, c: (a and b) or c),
    (f"({A} or {B}) and {C}", lambda a, b, c: (a or b) and c),
    (f"not {A} and {B}", lambda a, b, c: (not a) and b),
    (f"not ({A} and {B})", lambda a, b, c: not (a and b)),
    (f"not not {A} or not ({B} or {C})", lambda a, b, c: a or not (b or c)),
    (f"((({A})) and ({B} or ({C})))", lambda a, b, c: a and (b or c)),
]


@pytest.mark.parametrize(("condition", "expected"), TRUTH, ids=[t[0] for t in TRUTH])
def test_truth_tables(condition: str, expected: Callable[[bool, bool, bool], bool]) -> None:
    rule = compile_rule(f"review if {condition}")
    for a, b, c in itertools.product([False, True], repeat=3):
        values = {"card_count_1h": int(a), "merchant_count_1h": int(b), "is_weekend": int(c)}
        assert rule.matches(values, NO_LISTS) is expected(a, b, c), (a, b, c)


@pytest.mark.parametrize(
    ("condition", "when_missing"),
    [
        (":amount: > 5", False),
        (":amount: <= 5", False),
        (":amount: == 5", False),
        (":amount: != 5", False),
        (":card_country: != :ip_country:", False),
        (":card_country: == :ip_country:", False),
        (":channel: in ('pos', 'atm')", False),
        (":channel: not in ('pos', 'atm')", False),
        (":card_id: in @trusted", False),
        (":card_id: not in @trusted", False),
        (":attributes.tier: == 'gold'", False),
        ("not :amount: > 5", True),  # documented: `not` inverts the false comparison
    ],
)
def test_missing_and_none_values(condition: str, when_missing: bool) -> None:
    rule = compile_rule(f"block if {condition}")
    lists = {"trusted": frozenset({"c1"})}
    assert rule.matches({}, lists) is when_missing
    none = dict.fromkeys(["amount", "card_country", "channel", "card_id", "attributes"])
    assert rule.matches(none, lists) is when_missing
    assert rule.matches({"card_country": "FR", "ip_country": None}, lists) is when_missing


def test_wrong_runtime_types_are_false_not_errors() -> None:
    assert not compile_rule("block if :amount: > 5").matches({"amount": "lots"}, NO_LISTS)
    assert not compile_rule("block if :attributes.n: > 5").matches({"attributes": {"n": "x"}}, NO_LISTS)
    assert not compile_rule("block if :attributes.n: in (1, 2)").matches({"attributes": {"n": [1]}}, NO_LISTS)
    assert compile_rule("block if :attributes.n: in (1, 2)").matches({"attributes": {"n": 2}}, NO_LISTS)


def test_lists() -> None:
    rule = compile_rule("allow if :card_id: in @trusted_cards")
    lists = {"trusted_cards": frozenset({"c1", "c2"})}
    assert rule.matches({"card_id": "c1"}, lists)
    assert not rule.matches({"card_id": "c3"}, lists)
    assert not rule.matches({"card_id": "c1"}, {})  # an unknown list at run time matches nothing
    negated = compile_rule("block if :card_id: not in @trusted_cards")
    assert negated.matches({"card_id": "c3"}, lists) and not negated.matches({"card_id": "c1"}, lists)
    assert compile_rule("review if :mcc: in ('5411', '7995')").matches({"mcc": "7995"}, {})
    assert compile_rule("review if :amount: in (10, 20.5)").matches({"amount": 20.5}, {})
    assert compile_rule("review if :attributes.n: in @ids").matches(
        {"attributes": {"n": 7}}, {"ids": frozenset({"7"})}
    )


# Property: compiled evaluation equals a direct evaluation of the same tree.

NUMERIC = ["amount", "card_count_1h", "risk_score"]
TEXT = ["card_country", "ip_country", "channel"]
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
numbers = st.integers(-3, 3)
strings = st.sampled_from(["FR", "DE", "US"])

comparisons = st.one_of(
    st.tuples(st.sampled_from(NUMERIC), st.sampled_from(sorted(OPS)), numbers),
    st.tuples(st.sampled_from(TEXT), st.sampled_from(sorted(OPS)), strings),
    st.tuples(
        st.sampled_from(TEXT), st.sampled_from(["in", "not in"]), st.lists(strings, min_size=1, max_size=3)
    ),
)
trees = st.recursive(
    comparisons,
    lambda sub: st.one_of(
        st.tuples(st.just("not"), sub),
        st.tuples(st.sampled_from(["and", "or"]), sub, sub),
    ),
    max_leaves=6,
)
values_st = st.fixed_dictionaries(
    {},
    optional={
        **{n: st.one_of(st.none(), numbers) for n in NUMERIC},
        **{n: st.one_of(st.none(), strings) for n in TEXT},
    },
)


def render(tree: tuple[Any, ...]) -> str:
    head = tree[0]
    if head == "not":
        return f"not ({render(tree[1])})"
    if head in ("and", "or"):
        return f"({render(tree[1])}) {head} ({render(tree[2])})"
    name, op, const = tree
    if isinstance(const, list):
        return f":{name}: {op} (" + ", ".join(repr(c) for c in const) + ")"
    return f":{name}: {op} {const!r}"


def direct(tree: tuple[Any, ...], values: dict[str, Any]) -> bool:
    head = tree[0]
    if head == "not":
        return not direct(tree[1], values)
    if head == "and":
        return direct(tree[1], values) and direct(tree[2], values)
    if head == "or":
        return direct(tree[1], values) or direct(tree[2], values)
    name, op, const = tree
    value = values.get(name)
    if value is None:
        return False
    if op == "in":
        return value in const
    if op == "not in":
        return value not in const
    return OPS[op](value, const)


@settings(max_examples=300, deadline=None)
@given(tree=trees, values=values_st)
def test_compiled_equals_direct_evaluation(tree: tuple[Any, ...], values: dict[str, Any]) -> None:
    rule = compile_rule(f"review if {render(tree)}")
    assert rule.matches(values, NO_LISTS) is direct(tree, values)
