"""Opaque page cursors: the index a search walks, the position in it, and the query it belongs to.

A cursor is only accepted with the query (filters, order, account) it was made for,
and only on an index that query may walk; anything else is a 422.

>>> c = encode_cursor("dx:all", ("17", "e1"), "q")
>>> decode_cursor(c, "q", ["dx:all"])
('dx:all', ('17', 'e1'))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence

import orjson
from fastapi import HTTPException

from contracts.settings import Settings


def query_digest(*parts: object) -> str:
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:16]


def encode_cursor(index: str, position: tuple[str, str], digest: str) -> str:
    raw = orjson.dumps([index, position[0], position[1], digest])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, digest: str, allowed: Sequence[str]) -> tuple[str, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        index, score, member, made_for = orjson.loads(raw)
        valid = (
            isinstance(index, str)
            and isinstance(member, str)
            and isinstance(score, str)
            and score.isdigit()
            and made_for == digest
            and index in allowed
        )
    except (binascii.Error, ValueError, TypeError):
        valid = False
    if not valid:
        raise HTTPException(422, "invalid cursor: pass the next_cursor of the same query unchanged")
    return index, (score, member)


def page_size(limit: int | None, settings: Settings) -> int:
    """A page's size: what the caller asked for, else the default, never above the cap.

    >>> from contracts.settings import Settings
    >>> s = Settings(api_page_default=50, api_page_max=200)
    >>> page_size(None, s), page_size(10, s), page_size(10_000, s)
    (50, 10, 200)
    """
    return min(limit or settings.api_page_default, settings.api_page_max)
