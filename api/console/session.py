"""Console sign-in: the API key lives in an HttpOnly, SameSite=Strict cookie (Secure over
HTTPS), never in the page's storage. Each request re-checks it with the API's key store,
so revocation and the rate limit apply at once. State-changing requests carry a CSRF
token derived from the key (an attacker's page can neither read the cookie nor the token).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import Depends, HTTPException, Request

from api.dependencies import get_key_store, require
from store.api_keys import KeyStore, Principal, Role

COOKIE = "rw_console"
SESSION_MAX_AGE_S = 8 * 3600  # a working day; the key's revocation ends it sooner
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class SignInNeeded(Exception):
    """No valid key in the cookie: the page answers with a redirect to the sign-in page."""

    def __init__(self, next_url: str, reason: str) -> None:
        super().__init__(reason)
        self.next_url = next_url
        self.reason = reason


def csrf_token(secret: str) -> str:
    """A per-key token: an HMAC of a fixed purpose under the secret itself."""
    return hmac.new(secret.encode(), b"riskwire-console-csrf", hashlib.sha256).hexdigest()[:32]


def signin_url(next_url: str, reason: str = "") -> str:
    url = f"/ui/signin?next={quote(next_url, safe='')}"
    return url + (f"&reason={quote(reason, safe='')}" if reason else "")


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body as a dict (first value of each field)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


class Session:
    """The signed-in caller of a console page."""

    def __init__(self, principal: Principal, secret: str) -> None:
        self.principal = principal
        self.csrf = csrf_token(secret)

    @property
    def is_admin(self) -> bool:
        return self.principal.role is Role.ADMIN

    async def need(self, role: Role) -> None:
        """The API's own role check (403 unless ``role`` or admin)."""
        await require(role)(self.principal)

    def check_csrf(self, request: Request, form: dict[str, str] | None = None) -> None:
        sent = request.headers.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD, "")
        if not hmac.compare_digest(sent, self.csrf):
            raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")


async def session(request: Request, keys: Annotated[KeyStore, Depends(get_key_store)]) -> Session:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise SignInNeeded(here, "")
    verdict = await keys.check(secret)
    if verdict.principal is None:
        raise SignInNeeded(here, "the key was revoked or is not valid: paste a current one")
    if verdict.retry_after_s > 0:
        wait = max(1, math.ceil(verdict.retry_after_s))
        raise HTTPException(429, f"rate limit exceeded: retry after {wait} s", {"Retry-After": str(wait)})
    return Session(verdict.principal, secret)


Signed = Annotated[Session, Depends(session)]
