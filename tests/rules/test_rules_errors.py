"""Where a syntax error points, on rules that span lines; the tokens' exact spans; and the
boolean literals in any case."""

from __future__ import annotations

import pytest

from rules.errors import RuleSyntaxError
from rules.lexer import Token, tokenize
from rules.parser import Compare, Const, parse


def test_error_on_a_later_line_shows_that_line_with_the_caret_under_the_position():
    text = "block if\n  :amout: > 5\n  and true"
    err = RuleSyntaxError(text, 11, "unknown attribute ':amout:'")
    assert str(err) == "unknown attribute ':amout:' at position 11\n    :amout: > 5\n    ^"


def test_error_on_the_last_line_shows_it_to_its_end():
    err = RuleSyntaxError("block if\n:x: >", 13, "expected a value")
    assert str(err) == "expected a value at position 13\n  :x: >\n      ^"


def test_error_right_after_a_leading_newline_and_on_an_empty_first_line():
    assert str(RuleSyntaxError("\nblock", 1, "c")) == "c at position 1\n  block\n  ^"
    assert str(RuleSyntaxError("\nblock", 0, "c")) == "c at position 0\n  \n  ^"


def test_punctuation_tokens_carry_their_character_and_the_end_token_is_empty():
    tokens = tokenize("block if :amount: in (1, 2)")
    assert tokens[4:] == [
        Token("(", "(", 21, 22),
        Token("number", 1, 22, 23),
        Token(",", ",", 23, 24),
        Token("number", 2, 25, 26),
        Token(")", ")", 26, 27),
        Token("end", None, 27, 27),
    ]


@pytest.mark.parametrize(
    ("word", "value"), [("true", True), ("TRUE", True), ("false", False), ("False", False)]
)
def test_boolean_literals_in_any_case(word, value):
    cond = parse(f"block if :is_weekend: == {word}").condition
    assert isinstance(cond, Compare)
    assert cond.right == Const(value, "bool")


def test_a_malformed_attribute_says_how_to_write_one():
    with pytest.raises(RuleSyntaxError) as info:
        tokenize("block if :amount > 5")
    assert info.value.cause == "malformed attribute: write it as :name:"
