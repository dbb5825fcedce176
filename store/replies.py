"""Redis replies as text: a client answers bytes or str as its ``decode_responses`` says,
and the stores accept either.

>>> text(b"ab"), text("ab"), text(3), optional_text(None), optional_text(b"x")
('ab', 'ab', '3', None, 'x')
"""

from __future__ import annotations

__all__ = ["optional_text", "text"]


def text(value: object) -> str:
    """A reply as ``str`` (bytes decoded as UTF-8; anything else through ``str``)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def optional_text(value: object) -> str | None:
    """``text``, with None kept as None (a missing field or key)."""
    return None if value is None else text(value)
