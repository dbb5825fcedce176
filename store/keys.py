"""Key prefixes and hash tags: which keys share a Redis Cluster hash slot.

Every Lua call and ``MULTI`` touches the keys of one slot only. Redis hashes only the
part of a key between the first ``{`` and the next ``}`` (the hash tag), so:

- ``API`` (``rw:{api}:``): API keys, rate limits, the audit log, the decision indexes,
  decision metadata and the review queue — the audit entry is written with key and
  review changes, and reviews check the metadata, so they all share one slot;
- ``RULES`` (``rw:{rules}:``): rules, lists and their history;
- ``ONLINE`` (``rw:{ol}:``): the online learner's checkpoint, seen labels and pending labels;
- decision records (``rw:decision:{<event_id>}``) take the event id as their tag, so the
  bulk of the memory spreads over the cluster; each is written alone (``SET NX GET``).

>>> tagged("rw:decision:", "e1")
'rw:decision:{e1}'
"""

from __future__ import annotations

from typing import Final

API: Final = "rw:{api}:"
RULES: Final = "rw:{rules}:"
ONLINE: Final = "rw:{ol}:"


def tagged(prefix: str, ident: str) -> str:
    """``prefix`` + ``ident`` as the key's hash tag: the key's slot follows ``ident``."""
    return f"{prefix}{{{ident}}}"
