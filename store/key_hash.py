"""How API key secrets are stored: HMAC-SHA-256 under a server-side pepper.

What Redis holds for a key is ``HMAC(pepper, SHA-256(secret))``: without the pepper,
write access to Redis cannot mint a key (it used to hold the bare SHA-256, which anyone
could compute for a secret of their choosing). Hashing the old SHA-256 lets keys stored
before the pepper be migrated in place, without their secrets (``KeyStore.migrate``).

The pepper is ``RISKWIRE_API_KEY_PEPPER``; unset, one is generated once and kept in
``{var_dir}/api-key-pepper`` (mode 0600), which every API process and ``riskwire keys``
on that host then share.

>>> stored_digest(b"pepper", "rwk_x") == stored_digest(b"other", "rwk_x")
False
>>> stored_digest(b"pepper", "rwk_x") == pepper_digest(b"pepper", legacy_digest("rwk_x"))
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from contracts.settings import Settings

__all__ = ["PEPPER_FILE", "key_pepper", "legacy_digest", "pepper_digest", "stored_digest"]

PEPPER_FILE = "api-key-pepper"


def key_pepper(settings: Settings) -> bytes:
    """The pepper of the settings, else the var dir's (created on first use)."""
    if settings.api_key_pepper is not None:
        return settings.api_key_pepper.get_secret_value().encode()
    path = settings.var_dir / PEPPER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two processes starting together agree on one pepper
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def legacy_digest(secret: str) -> str:
    """The SHA-256 that keys stored before the pepper hold."""
    return hashlib.sha256(secret.encode()).hexdigest()


def pepper_digest(pepper: bytes, sha256_hex: str) -> str:
    return hmac.new(pepper, sha256_hex.encode(), hashlib.sha256).hexdigest()


def stored_digest(pepper: bytes, secret: str) -> str:
    """What Redis keeps for ``secret``."""
    return pepper_digest(pepper, legacy_digest(secret))
