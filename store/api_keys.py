"""API keys: roles, accounts, peppered secret hashes in Redis, and the per-key rate limit.

A secret is ``rwk_{key_id}_{random}``. Only its HMAC under the server's pepper is
stored (store/key_hash.py). One Lua call per
request finds the key by id, compares the hash, refuses revoked keys and takes a
token from the key's bucket (Redis ``TIME``, so several API processes share it).

>>> parse_secret("rwk_0123456789abcdef_" + "Ab-_" * 11)
'0123456789abcdef'
>>> parse_secret("nope") is None
True
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.exceptions import WatchError

from store.audit import Actor, AuditLog, entry_fields, now_rfc3339
from store.connect import AsyncRedis
from store.key_hash import pepper_digest, stored_digest
from store.layout import API_KEYS_INDEX, api_key, rate_key
from store.replies import optional_text, text
from store.scripts import script

_SECRET = re.compile(r"^rwk_([0-9a-f]{16})_[A-Za-z0-9_-]{20,128}$")


class Role(StrEnum):
    ANALYST = "analyst"
    ADMIN = "admin"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    """The caller of a request, from its key."""

    key_id: str
    role: Role
    account: str | None

    @property
    def actor(self) -> Actor:
        return Actor(who=self.key_id, role=self.role.value, account=self.account)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    role: Role
    account: str | None
    name: str
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None


@dataclass(frozen=True)
class Verdict:
    """What the access check says about a request's key."""

    principal: Principal | None  # None: no such key, wrong secret, or revoked
    retry_after_s: float = 0.0  # > 0: over the rate limit


def parse_secret(secret: str) -> str | None:
    """The key id inside a well-formed secret, else None."""
    match = _SECRET.match(secret)
    return match.group(1) if match else None


_CHECK = script("api_key_check")


def _info(key_id: str, h: Mapping[Any, Any]) -> KeyInfo:
    f = {text(k): text(v) for k, v in h.items()}
    return KeyInfo(
        id=key_id,
        role=Role(f["role"]),
        account=f.get("account") or None,
        name=f.get("name", ""),
        created_at=f.get("created_at", ""),
        created_by=f.get("created_by", ""),
        revoked_at=f.get("revoked_at") or None,
        revoked_by=f.get("revoked_by") or None,
    )


def _public(info: KeyInfo) -> dict[str, str | None]:
    """A key as the audit log records it: never the hash."""
    return {
        "id": info.id,
        "role": info.role.value,
        "account": info.account,
        "name": info.name,
        "revoked_at": info.revoked_at,
    }


class LastAdminKey(Exception):
    """Revoking this key would leave no unbound admin key to manage the others."""


def _unbound_admin(info: KeyInfo) -> bool:
    return info.role is Role.ADMIN and info.account is None and not info.revoked_at


class KeyStore:
    def __init__(
        self, client: AsyncRedis, audit: AuditLog, *, rate_per_s: float, burst: int, pepper: bytes
    ) -> None:
        self._redis = client
        self._audit = audit
        self._pepper = pepper
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._check = client.register_script(_CHECK)

    async def check(self, secret: str) -> Verdict:
        """Authenticate a secret and charge its rate limit: one round trip."""
        key_id = parse_secret(secret)
        if key_id is None:
            return Verdict(None)
        reply = await self._check(
            keys=[api_key(key_id), rate_key(key_id)],
            args=[key_id, stored_digest(self._pepper, secret), self.rate_per_s, self.burst],
        )
        status = int(reply[0])
        if status == 0:
            return Verdict(None)
        principal = Principal(
            key_id=key_id, role=Role(text(reply[1])), account=optional_text(reply[2]) or None
        )
        return Verdict(principal, retry_after_s=int(reply[3]) / 1e6 if status == 2 else 0.0)

    async def create(self, *, role: Role, account: str | None, name: str, by: Actor) -> tuple[KeyInfo, str]:
        """A new key and its secret (shown once: only the hash is kept)."""
        key_id = secrets.token_hex(8)
        secret = f"rwk_{key_id}_{secrets.token_urlsafe(32)}"
        info = KeyInfo(
            id=key_id,
            role=role,
            account=account,
            name=name,
            created_at=now_rfc3339(),
            created_by=by.who,
            revoked_at=None,
            revoked_by=None,
        )
        mapping = {
            "hmac": stored_digest(self._pepper, secret),
            "role": role.value,
            "account": account or "",
            "name": name,
            "created_at": info.created_at,
            "created_by": by.who,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(api_key(key_id), mapping=mapping)  # type: ignore[arg-type]
            pipe.zadd(API_KEYS_INDEX, {key_id: int(time.time() * 1000)})
            self._audit.add_to(pipe, entry_fields(by, "key.create", key_id, None, _public(info)))
            await pipe.execute()
        return info, secret

    async def migrate(self) -> int:
        """Re-store keys kept as a bare SHA-256 (before the pepper) as its HMAC; the count.

        Idempotent and safe to run from several processes: a key migrated twice gets the
        same digest. Until migrated, such a key is refused (a bare hash is what anyone
        with Redis write access could plant).
        """
        ids = [text(i) for i in await self._redis.zrange(API_KEYS_INDEX, 0, -1)]
        pipe = self._redis.pipeline(transaction=False)
        for key_id in ids:
            pipe.hget(api_key(key_id), "sha256")
        legacy = await pipe.execute() if ids else []
        moved = 0
        for key_id, digest in zip(ids, legacy, strict=True):
            if digest:
                await self._redis.hset(api_key(key_id), "hmac", pepper_digest(self._pepper, text(digest)))
                await self._redis.hdel(api_key(key_id), "sha256")
                moved += 1
        return moved

    async def get(self, key_id: str) -> KeyInfo | None:
        h = await self._redis.hgetall(api_key(key_id))
        return _info(key_id, h) if h else None

    async def list(self, account: str | None = None) -> list[KeyInfo]:
        """Every key, oldest first; only one account's when ``account`` is given."""
        ids = [text(i) for i in await self._redis.zrange(API_KEYS_INDEX, 0, -1)]
        pipe = self._redis.pipeline(transaction=False)
        for key_id in ids:
            pipe.hgetall(api_key(key_id))
        rows = await pipe.execute() if ids else []
        out = [_info(key_id, h) for key_id, h in zip(ids, rows, strict=True) if h]
        return [k for k in out if account is None or k.account == account]

    async def revoke(
        self, key_id: str, *, by: Actor, keep_an_admin: bool = False
    ) -> tuple[KeyInfo | None, bool]:
        """Revoke a key: (the key after the call, whether this call revoked it).

        ``keep_an_admin``: raise :class:`LastAdminKey` rather than revoke the last active
        unbound admin key (the API's rule; ``riskwire keys revoke`` on the host may).
        """
        name = api_key(key_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(name)
                    h = await pipe.hgetall(name)
                    if not h:
                        return None, False
                    before = _info(key_id, h)
                    if before.revoked_at:
                        return before, False
                    if keep_an_admin and _unbound_admin(before):
                        others = [k.id for k in await self.list() if k.id != key_id and _unbound_admin(k)]
                        # Watched, then read again: two admins revoking each other at once
                        # cannot both succeed.
                        if others:
                            await pipe.watch(name, *[api_key(k) for k in others])
                        live = [await pipe.hget(api_key(k), "revoked_at") for k in others]
                        if not any(not at for at in live):
                            raise LastAdminKey(f"API key {key_id!r} is the last unbound admin key")
                    at = now_rfc3339()
                    after = KeyInfo(**{**before.__dict__, "revoked_at": at, "revoked_by": by.who})
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(name, mapping={"revoked_at": at, "revoked_by": by.who})
                    pipe.delete(rate_key(key_id))
                    self._audit.add_to(
                        pipe, entry_fields(by, "key.revoke", key_id, _public(before), _public(after), at)
                    )
                    await pipe.execute()
                    return after, True
                except WatchError:
                    continue
