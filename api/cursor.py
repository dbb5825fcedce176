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
