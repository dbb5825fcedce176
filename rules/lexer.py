"""Tokens of the rule language.

>>> [(t.kind, t.value, t.pos) for t in tokenize("block if :amount: >= 1e3")][2:]
[('attr', 'amount', 9), ('op', '>=', 18), ('number', 1000.0, 21), ('end', None, 24)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from rules.errors import RuleSyntaxError

OPERATORS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})

_ATTR = re.compile(r":([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)?):")
_LIST = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPCHARS = re.compile(r"[=!<>]+")
_ESCAPES: Final = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Token:
    """``kind`` is one of attr, list, number, string, word, op, ``(``, ``)``, ``,``, end."""

    kind: str
    value: object
    pos: int
    end: int


def _string(text: str, pos: int) -> Token:
    quote, i = text[pos], pos + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return Token("string", "".join(out), pos, i + 1)
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise RuleSyntaxError(text, pos, f"unterminated string: no closing {quote}")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token at ``len(text)``."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch == ":":
            m = _ATTR.match(text, pos)
            if m is None:
                raise RuleSyntaxError(text, pos, "malformed attribute: write it as :name:")
            tokens.append(Token("attr", m.group(1), pos, m.end()))
        elif ch == "@":
            m = _LIST.match(text, pos)
            if m is None:
                raise RuleSyntaxError(text, pos, "malformed list: write it as @name")
            tokens.append(Token("list", m.group(1), pos, m.end()))
        elif ch in "'\"":
            tokens.append(_string(text, pos))
        elif (m := _NUMBER.match(text, pos)) is not None:
            raw = m.group()
            value: float = int(raw) if raw.lstrip("-").isdigit() else float(raw)
            tokens.append(Token("number", value, pos, m.end()))
        elif (m := _WORD.match(text, pos)) is not None:
            tokens.append(Token("word", m.group(), pos, m.end()))
        elif (m := _OPCHARS.match(text, pos)) is not None:
            if m.group() not in OPERATORS:
                raise RuleSyntaxError(text, pos, f"unknown operator {m.group()!r}")
            tokens.append(Token("op", m.group(), pos, m.end()))
        elif ch in "(),":
            tokens.append(Token(ch, ch, pos, pos + 1))
        else:
            raise RuleSyntaxError(text, pos, f"unexpected character {ch!r}")
        pos = tokens[-1].end
    tokens.append(Token("end", None, len(text), len(text)))
    return tokens
