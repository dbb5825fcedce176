"""Recursive-descent parser: rule text → checked syntax tree.

Grammar (keywords are case-insensitive; ``and`` binds tighter than ``or``)::

    rule       := ACTION "if" or_expr END           ACTION := allow | review | block
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := operand OP operand | operand ["not"] "in" (@list | "(" literal ("," literal)* ")")
    operand    := :attribute: | literal             literal := number | 'string' | "string" | true | false

>>> parse("review if :amount: > 1000 and not :channel: in ('pos', 'atm')").action
'review'
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from rules.attributes import ValueType, attribute_type
from rules.errors import RuleSyntaxError
from rules.lexer import Token, tokenize

ACTIONS: Final = ("allow", "review", "block")
KEYWORDS: Final = frozenset({*ACTIONS, "if", "and", "or", "not", "in", "true", "false"})
_ORDERING: Final = frozenset({"<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Attr:
    name: str
    type: ValueType


@dataclass(frozen=True, slots=True)
class Const:
    value: object
    type: ValueType


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # ==, !=, <, <=, >, >=, in, not in
    left: Attr | Const
    right: Attr | Const | tuple[Const, ...] | str  # a str is a @list name


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and, or, not
    items: tuple[Node, ...]


Node = Compare | BoolOp


@dataclass(frozen=True, slots=True)
class ParsedRule:
    action: str
    condition: Node


def _describe(tok: Token) -> str:
    return "the end of the rule" if tok.kind == "end" else repr(tok.value)


#: Deepest nesting of parentheses and ``not`` a rule may have.
MAX_NESTING = 64


class _Parser:
    def __init__(self, text: str, known_lists: Collection[str] | None) -> None:
        self.text = text
        self.known_lists = known_lists
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def fail(self, pos: int, cause: str) -> RuleSyntaxError:
        return RuleSyntaxError(self.text, pos, cause)

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok.kind == "word" and str(tok.value).lower() == word:
            self.take()
            return True
        return False

    def rule(self) -> ParsedRule:
        tok = self.take()
        action = str(tok.value).lower()
        if tok.kind != "word" or action not in ACTIONS:
            raise self.fail(tok.pos, f"missing action (allow, review or block), found {_describe(tok)}")
        if not self.keyword("if"):
            raise self.fail(
                self.peek().pos, f"expected 'if' after {action!r}, found {_describe(self.peek())}"
            )
        if self.peek().kind == "end":
            raise self.fail(self.peek().pos, "missing condition after 'if'")
        condition = self.or_expr()
        tok = self.peek()
        if tok.kind == ")":
            raise self.fail(tok.pos, "unbalanced parenthesis: ')' without a matching '('")
        if tok.kind != "end":
            raise self.fail(tok.pos, f"expected 'and', 'or' or the end of the rule, found {_describe(tok)}")
        return ParsedRule(action, condition)

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.keyword("or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.keyword("and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self) -> Node:
        # Bounded nesting: a deep rule is an error with a position, not a RecursionError.
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.fail(self.peek().pos, f"nested more than {MAX_NESTING} levels deep")
            if self.keyword("not"):
                return BoolOp("not", (self.not_expr(),))
            tok = self.peek()
            if tok.kind == "(":
                self.take()
                inner = self.or_expr()
                self.close(tok, "'and', 'or' or ')'")
                return inner
            return self.comparison()
        finally:
            self.depth -= 1

    def close(self, opening: Token, expected: str) -> None:
        tok = self.take()
        if tok.kind == "end":
            raise self.fail(opening.pos, "unbalanced parenthesis: '(' is never closed")
        if tok.kind != ")":
            raise self.fail(tok.pos, f"expected {expected}, found {_describe(tok)}")

    def operand(self) -> tuple[Attr | Const, Token]:
        tok = self.take()
        if tok.kind == "attr":
            kind = attribute_type(str(tok.value))
            if kind is None:
                raise self.fail(tok.pos, f"unknown attribute ':{tok.value}:'")
            return Attr(str(tok.value), kind), tok
        if tok.kind == "number":
            return Const(tok.value, "number"), tok
        if tok.kind == "string":
            return Const(tok.value, "string"), tok
        if tok.kind == "word" and str(tok.value).lower() in ("true", "false"):
            return Const(str(tok.value).lower() == "true", "bool"), tok
        if tok.kind == "end":
            raise self.fail(tok.pos, "missing value at the end of the rule")
        if tok.kind == "list":
            raise self.fail(tok.pos, f"a list (@{tok.value}) can only follow 'in'")
        if tok.kind == "word" and str(tok.value).lower() not in KEYWORDS:
            raise self.fail(tok.pos, f"unknown word {tok.value!r} (attributes are written :name:)")
        raise self.fail(tok.pos, f"expected an :attribute: or a value, found {_describe(tok)}")

    def comparison(self) -> Compare:
        left, _ = self.operand()
        tok = self.take()
        if tok.kind == "op":
            right, rtok = self.operand()
            self.check(str(tok.value), left, right, rtok)
            return Compare(str(tok.value), left, right)
        negated = tok.kind == "word" and str(tok.value).lower() == "not"
        if negated:
            tok = self.take()
        if tok.kind == "word" and str(tok.value).lower() == "in":
            return Compare("not in" if negated else "in", left, self.collection(left))
        if tok.kind == "end":
            raise self.fail(tok.pos, "missing comparison operator at the end of the rule")
        if tok.kind == "word" and not negated:
            raise self.fail(tok.pos, f"unknown operator {tok.value!r}")
        raise self.fail(tok.pos, f"expected a comparison operator, found {_describe(tok)}")

    def collection(self, left: Attr | Const) -> tuple[Const, ...] | str:
        tok = self.take()
        if tok.kind == "list":
            name = str(tok.value)
            if self.known_lists is not None and name not in self.known_lists:
                raise self.fail(tok.pos, f"unknown list '@{name}'")
            if left.type not in ("string", "any"):
                raise self.fail(tok.pos, f"type mismatch: lists hold strings, the left side is a {left.type}")
            return name
        if tok.kind != "(":
            raise self.fail(tok.pos, f"expected @list or (value, ...) after 'in', found {_describe(tok)}")
        if self.peek().kind == ")":
            raise self.fail(self.peek().pos, "empty list: write at least one value")
        items: list[Const] = []
        while True:
            item, itok = self.operand()
            if not isinstance(item, Const):
                raise self.fail(itok.pos, "a literal list holds only numbers, strings or true/false")
            self.check("==", left, item, itok)
            items.append(item)
            if self.peek().kind != ",":
                break
            self.take()
        self.close(tok, "',' or ')'")
        return tuple(items)

    def check(self, op: str, left: Attr | Const, right: Attr | Const, rtok: Token) -> None:
        kinds = {left.type, right.type}
        if "any" in kinds:
            return
        if op in _ORDERING:
            ok = len(kinds) == 1 and kinds != {"bool"}
        else:
            ok = len(kinds) == 1 or kinds == {"number", "bool"}
        if not ok:
            what = "order" if op in _ORDERING else "compare"
            raise self.fail(rtok.pos, f"type mismatch: cannot {what} a {left.type} with a {right.type}")


def parse(text: str, known_lists: Collection[str] | None = None) -> ParsedRule:
    """Parse and type-check ``text``; raise ``RuleSyntaxError`` if it is malformed.
    With ``known_lists`` given, a ``@list`` outside it is an error."""
    return _Parser(text, known_lists).rule()
