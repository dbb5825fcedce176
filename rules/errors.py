"""The one exception a malformed rule raises.

>>> err = RuleSyntaxError("block if :amout: > 5", 9, "unknown attribute ':amout:'")
>>> print(err)
unknown attribute ':amout:' at position 9
  block if :amout: > 5
           ^
>>> err.position, err.cause
(9, "unknown attribute ':amout:'")
"""

from __future__ import annotations

from contracts.errors import RiskwireError


class RuleSyntaxError(RiskwireError, ValueError):
    """A rule that cannot be compiled: ``position`` is the 0-based character
    offset of the offending part of ``text`` and ``cause`` says what is wrong."""

    def __init__(self, text: str, position: int, cause: str) -> None:
        self.text = text
        self.position = position
        self.cause = cause
        super().__init__(text, position, cause)

    def __str__(self) -> str:
        # Keep the caret aligned when the rule spans lines: show the line holding the position.
        start = self.text.rfind("\n", 0, self.position) + 1
        end = self.text.find("\n", self.position)
        line = self.text[start : end if end >= 0 else len(self.text)]
        return f"{self.cause} at position {self.position}\n  {line}\n  {' ' * (self.position - start)}^"
