"""Optional encryption at rest of stored values: AES-256-GCM with a key id per value.

Off by default. ``RISKWIRE_AT_REST_KEYS`` lists ``kid:base64(32 bytes)`` entries separated
by commas: the first encrypts, every one decrypts, so a key is rotated by putting a new
one first and dropping the old one once nothing holds it (values are re-encrypted when
rewritten, or with :meth:`AtRest.rotate`). A value is ASCII, so Lua scripts and JSON can
carry it: ``rwe1:{kid}:{base64url(nonce ‖ ciphertext ‖ tag)}``. The associated data is
the value's Redis key name (and field), so a value copied under another key does not
decrypt. Values without the prefix are plaintext written before encryption was turned
on, and read as they are.

>>> box = AtRest.parse("k1:" + "A" * 43 + "=")
>>> sealed = box.encrypt(b'{"event_id": "e1"}', b"rw:d:e1")
>>> sealed.startswith(b"rwe1:k1:"), box.decrypt(sealed, b"rw:d:e1")
(True, b'{"event_id": "e1"}')
>>> AtRest.off().encrypt(b"x", b"k"), AtRest.off().decrypt(b"x", b"k")
(b'x', b'x')
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.settings import Settings

__all__ = ["PREFIX", "AtRest", "AtRestError"]

PREFIX = b"rwe1:"
_NONCE = 12
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class AtRestError(ValueError):
    """A bad key setting, or a value that cannot be decrypted (unknown key id, tampered)."""


class AtRest:
    """Encrypts and decrypts values; a no-op when built without keys."""

    def __init__(self, keys: Sequence[tuple[str, bytes]] = ()) -> None:
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.current: str | None = keys[0][0] if keys else None

    @classmethod
    def off(cls) -> AtRest:
        return cls()

    @classmethod
    def parse(cls, spec: str) -> AtRest:
        """Keys from ``kid:base64key[,kid:base64key…]`` (the first encrypts)."""
        keys: list[tuple[str, bytes]] = []
        for entry in (e.strip() for e in spec.split(",")):
            kid, sep, encoded = entry.partition(":")
            if not sep or not _KID.match(kid):
                raise AtRestError("at-rest keys: each entry is kid:base64key, kid of [A-Za-z0-9_-]{1,32}")
            try:
                # Standard or URL-safe alphabet, as `openssl rand -base64 32` or Python's writes it.
                key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise AtRestError(f"at-rest key {kid!r} is not base64") from exc
            if len(key) != 32:
                raise AtRestError(f"at-rest key {kid!r} must be 32 bytes (AES-256), not {len(key)}")
            if any(k == kid for k, _ in keys):
                raise AtRestError(f"at-rest key id {kid!r} is listed twice")
            keys.append((kid, key))
        return cls(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> AtRest:
        spec = settings.at_rest_keys
        return cls.parse(spec.get_secret_value()) if spec is not None else cls.off()

    @property
    def enabled(self) -> bool:
        return self.current is not None

    def encrypt(self, value: bytes, where: bytes) -> bytes:
        """``value`` sealed under the current key, bound to ``where`` (its key name)."""
        if self.current is None:
            return value
        nonce = os.urandom(_NONCE)
        sealed = self._keys[self.current].encrypt(nonce, value, where)
        return PREFIX + self.current.encode() + b":" + base64.urlsafe_b64encode(nonce + sealed)

    def decrypt(self, value: bytes, where: bytes) -> bytes:
        """The plaintext of a stored value (plaintext values pass through)."""
        if not value.startswith(PREFIX):
            return value
        kid, sep, body = value[len(PREFIX) :].partition(b":")
        cipher = self._keys.get(kid.decode(errors="replace"))
        if not sep or cipher is None:
            raise AtRestError(
                f"stored value sealed with key id {kid.decode(errors='replace')!r}, not configured"
            )
        try:
            raw = base64.urlsafe_b64decode(body)
            return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], where)
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise AtRestError("stored value does not decrypt: tampered, or moved from another key") from exc

    def key_id(self, value: bytes) -> str | None:
        """The key id a stored value is sealed with (None: plaintext)."""
        if not value.startswith(PREFIX):
            return None
        return value[len(PREFIX) :].partition(b":")[0].decode(errors="replace")

    def rotate(self, value: bytes, where: bytes) -> bytes:
        """``value`` re-sealed under the current key (unchanged if it already is)."""
        if self.current is not None and self.key_id(value) == self.current:
            return value
        return self.encrypt(self.decrypt(value, where), where)

    def encrypt_text(self, value: str, where: str) -> str:
        return self.encrypt(value.encode(), where.encode()).decode()

    def decrypt_text(self, value: str, where: str) -> str:
        return self.decrypt(value.encode(), where.encode()).decode()
