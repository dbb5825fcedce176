"""Who an event is and what the stores call its entities (docs/redis-keys.md, "Identity").

**Events are scoped by account.** Event ids are only unique per producer, so every store
(decision records, indexes, reviews, the feature event guard, seen and pending labels) keys
an event by ``(account, event_id)``: another account's id is simply another event. The
*reference* ``event_ref(account, event_id)`` is the account, %-escaped so that it holds no
``:``, then ``:`` and the event id; an event without an account has an empty account part.

>>> event_ref("acct-1", "e1"), event_ref(None, "e1"), event_ref("a:b", "c")
('acct-1:e1', ':e1', 'a%3Ab:c')
>>> split_ref('a%3Ab:c:d')
('a:b', 'c:d')

**Entities are pseudonymised, and per account unless shared.** Card, customer, merchant,
device, IP and email values never appear in key names, indexes or metadata: the stores
use a keyed HMAC-SHA-256 of them (120 bits, URL-safe base64), so someone who reads Redis
cannot tell which card a key belongs to without the key. Feature state is per account:
the HMAC covers the account too, unless the entity kind is listed in
``RISKWIRE_SHARED_SIGNALS`` (then every account's payments feed one state). Search indexes
use the HMAC without the account (they are filtered by account separately), so a search
by card hashes the query the same way.

>>> names = EntityNames(b"k", shared=frozenset({"card"}))
>>> names.entity(0, "a", "4111") == names.entity(0, "b", "4111")  # cards are shared here
True
>>> names.entity(2, "a", "m1") == names.entity(2, "b", "m1")  # merchants are not
False
>>> len(names.entity(2, "a", "m1")), names.index("card", "4111") == names.index("card", "4111")
(20, True)
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from contracts.records import ENTITY_KINDS
from contracts.settings import Settings

__all__ = ["ENTITY_KINDS", "KEY_FILE", "EntityNames", "event_ref", "load_names", "split_ref"]

#: Where the embedded default key is kept, under ``RISKWIRE_VAR_DIR``.
KEY_FILE = "pseudonym.key"
_MEMORY_KEY = b"riskwire in-memory twin"  # in-memory stores: nothing leaves the process
_CACHE_MAX = 1 << 18


def event_ref(account: str | None, event_id: str) -> str:
    """The event's identity in every store: ``<escaped account>:<event_id>``."""
    return f"{quote(account or '', safe='')}:{event_id}"


def split_ref(ref: str) -> tuple[str | None, str]:
    """``(account or None, event_id)`` of a reference."""
    account, _, event_id = ref.partition(":")
    return (unquote(account) or None), event_id


@lru_cache(maxsize=8)
def _pads(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA-256's inner and outer hash states for ``key`` (RFC 2104), made once:
    copying them costs a third of ``hmac.digest``, which sets them up on every call."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block))


def _hmac(key: bytes, msg: bytes) -> bytes:
    """``hmac.digest(key, msg, "sha256")``, from the precomputed pads.

    >>> import hmac
    >>> _hmac(b"k", b"msg") == hmac.digest(b"k", b"msg", "sha256")
    True
    >>> _hmac(b"x" * 100, b"m") == hmac.digest(b"x" * 100, b"m", "sha256")
    True
    """
    inner, outer = _pads(key)
    i = inner.copy()
    i.update(msg)
    o = outer.copy()
    o.update(i.digest())
    return bytes(o.digest())


@lru_cache(maxsize=1 << 16)
def _token(key: bytes, kind: str, scope: str, value: str) -> str:
    # The parts are length-prefixed, so no two (kind, scope, value) give the same message.
    msg = f"{len(kind)}:{kind}{len(scope)}:{scope}{value}".encode()
    return base64.urlsafe_b64encode(_hmac(key, msg)[:15]).decode()


@dataclass(frozen=True)
class EntityNames:
    """The names the stores give entities: keyed, and per account unless ``shared``."""

    key: bytes = _MEMORY_KEY
    shared: frozenset[str] = field(default_factory=frozenset)
    # Names already made, by (kind, account, value): on the hot path most entities repeat,
    # and a dict hit costs a tenth of an HMAC. Cleared whole when it grows past _CACHE_MAX.
    _made: dict[tuple[int | str, str | None, str], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def entity(self, kind: int, account: str | None, value: str) -> str:
        """The feature-state name of an entity (``kind`` indexes ``ENTITY_KINDS``)."""
        made = self._made
        found = made.get((kind, account, value))
        if found is None:
            if len(made) >= _CACHE_MAX:
                made.clear()
            name = ENTITY_KINDS[kind]
            scope = "" if name in self.shared else (account or "")
            found = made[kind, account, value] = _token(self.key, name, scope, value)
        return found

    def index(self, kind: str, value: str) -> str:
        """The search-index name of an entity value, the same for every account."""
        made = self._made
        found = made.get((kind, None, value))
        if found is None:
            if len(made) >= _CACHE_MAX:
                made.clear()
            found = made[kind, None, value] = _token(self.key, kind, "*", value)  # "*": no account's name
        return found


def _key_file(path: Path) -> bytes:
    """The key kept at ``path``, made on first use (only this user can read it)."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def load_names(settings: Settings) -> EntityNames:
    """The names every process of a deployment must share: ``RISKWIRE_PSEUDONYM_KEY`` (hex or
    any text), else a key generated once under the var dir."""
    secret = settings.pseudonym_key
    if secret is not None:
        text = secret.get_secret_value()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = text.encode()
    else:
        key = _key_file(settings.var_dir / KEY_FILE)
    return EntityNames(key, frozenset(settings.shared_signals))
