"""Every rule-language error names its cause and its exact position."""

from __future__ import annotations

import pytest

from rules import RuleSyntaxError, compile_rule

LISTS = ["trusted_cards", "risky_ips"]

# (rule, 0-based position, words the message must contain)
ERRORS = [
    ("blok if :amount: > 5", 0, "missing action"),
    (":amount: > 5", 0, "missing action"),
    ("", 0, "missing action"),
    ("block :amount: > 5", 6, "expected 'if'"),
    ("block if", 8, "missing condition"),
    ("block if :amout: > 5", 9, "unknown attribute ':amout:'"),
    ("block if :amount: => 5", 18, "unknown operator '=>'"),
    ("block if :amount: = 5", 18, "unknown operator '='"),
    ("block if :amount: gt 5", 18, "unknown operator 'gt'"),
    ("block if (:amount: > 5", 9, "unbalanced parenthesis"),
    ("block if ((:amount: > 5)", 9, "unbalanced parenthesis"),
    ("block if :amount: > 5)", 21, "unbalanced parenthesis"),
    ("block if :amount: > 'abc'", 20, "type mismatch"),
    ("block if :card_country: > 5", 26, "type mismatch"),
    ("block if :is_weekend: > true", 24, "type mismatch"),
    ("block if :amount: in @trusted_cards", 21, "type mismatch"),
    ("block if :channel: in ('pos', 3)", 30, "type mismatch"),
    ("allow if :card_id: in @trusted", 22, "unknown list '@trusted'"),
    ("block if :amount: > 'abc", 20, "unterminated string"),
    ("block if :amount > 5", 9, "malformed attribute"),
    ("block if @ > 5", 9, "malformed list"),
    ("block if :amount: > 5 and", 25, "missing value"),
    ("block if :amount: >", 19, "missing value"),
    ("block if :amount:", 17, "missing comparison operator"),
    ("block if :amount: > 5 :mcc: == '5411'", 22, "expected 'and', 'or'"),
    ("block if :channel: in ()", 23, "empty list"),
    ("block if :channel: in ('pos', 'atm'", 22, "unbalanced parenthesis"),
    ("block if :channel: in 'pos'", 22, "expected @list"),
    ("block if :card_id: in (:merchant_id:)", 23, "literal list holds only"),
    ("block if :amount: > 5 & :mcc: == 'x'", 22, "unexpected character '&'"),
    ("block if amount > 5", 9, "unknown word 'amount'"),
    ("block if :amount: > @big", 20, "can only follow 'in'"),
    ("review if :amount: > 1000 and (:card_country: != :ip_country: or", 64, "missing value"),
]


@pytest.mark.parametrize(("text", "position", "cause"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS])
def test_error_position_and_cause(text: str, position: int, cause: str) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        compile_rule(text, known_lists=LISTS)
    assert info.value.position == position, str(info.value)
    assert cause in info.value.cause
    assert info.value.text == text


def test_message_shows_caret_under_position() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        compile_rule("review if :amount: > 1000 and :card_country: !== :ip_country:")
    assert str(info.value).splitlines() == [
        "unknown operator '!==' at position 45",
        "  review if :amount: > 1000 and :card_country: !== :ip_country:",
        "                                               ^",
    ]


def test_caret_on_the_right_line_of_a_multiline_rule() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        compile_rule("block if :amount: > 5\n  and :nope: == 1")
    assert info.value.position == 28
    assert str(info.value).splitlines()[1:] == ["    and :nope: == 1", "        ^"]


def test_lists_unchecked_when_not_given() -> None:
    assert compile_rule("allow if :card_id: in @anything").action == "allow"


@pytest.mark.parametrize(
    "text",
    [
        "block if :risk_score: >= 90",
        "review if :amount: > 1000 and :card_country: != :ip_country:",
        "allow if :card_id: in @trusted_cards",
        "BLOCK IF :amount: > 1e3 AND NOT :channel: IN ('pos', \"atm\")",
        "review if :probability: >= 0.5 or :card_ip_country_mismatch: == true",
        "block if :attributes.tier: == 'gold' and :ip: not in @risky_ips",
        "review if :amount: <= -1.5 or :mcc: == '5411' or :card_country: < :ip_country:",
        "review if 'it\\'s' == :attributes.note:",
    ],
)
def test_valid_rules_compile(text: str) -> None:
    rule = compile_rule(text, known_lists=LISTS)
    assert rule.text == text and rule.action == text.split()[0].lower()


def test_deep_nesting_is_a_syntax_error_not_a_crash():
    from rules.parser import MAX_NESTING

    deep = "block if " + "(" * 400 + ":amount: > 5" + ")" * 400
    with pytest.raises(RuleSyntaxError) as err:
        compile_rule(deep)
    assert "nested more than" in err.value.cause
    fine = "block if " + "(" * (MAX_NESTING - 2) + ":amount: > 5" + ")" * (MAX_NESTING - 2)
    assert compile_rule(fine).matches({"amount": 6.0}, {})
