"""Which accounts a request may touch: the checks every router shares.

A key bound to an account sees that account only; a key bound to none picks one with
``?account_id=`` or sees them all. What serves every account (rules, lists, models, the
audit log) needs a key bound to none. Route functions call these themselves, not only
through dependencies, because the console calls them directly.

>>> from store.api_keys import Principal, Role
>>> bound, unbound = Principal("k1", Role.ANALYST, "acme"), Principal("k2", Role.ADMIN, None)
>>> read_scope(bound, None), read_scope(bound, "globex"), read_scope(unbound, "acme")
(('acme', True), ('acme', False), ('acme', True))
"""

from __future__ import annotations

from fastapi import HTTPException

from store.api_keys import Principal

__all__ = ["read_scope", "require_unbound"]


def read_scope(principal: Principal, account_id: str | None) -> tuple[str | None, bool]:
    """The account a read is scoped to (None: every account), and whether the caller may
    see it at all (False: a bound key asked for another account, which reads as nothing)."""
    if principal.account is None:
        return account_id, True
    return principal.account, account_id in (None, principal.account)


def require_unbound(principal: Principal, why: str) -> None:
    """403 unless the key is bound to no account; ``why`` says what serves every account."""
    if principal.account is not None:
        raise HTTPException(403, f"{why}: a key bound to one account cannot use it")
