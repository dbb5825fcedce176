"""Wiring the console into the API: its routers, static assets, sign-in and HTML errors."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console import audit, models, payments, reviews, rules
from api.console.render import HERE, page
from api.console.session import COOKIE, SESSION_MAX_AGE_S, Signed, SignInNeeded, form_fields, signin_url
from api.dependencies import get_key_store
from store.api_keys import KeyStore

router = APIRouter()


def _safe_next(url: str) -> str:
    """Only a path inside the console: never an open redirect."""
    return url if url.startswith("/ui/") and not url.startswith("//") else "/ui/payments"


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/ui/payments", status_code=307)


@router.get("/ui", include_in_schema=False)
@router.get("/ui/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/payments", status_code=307)


@router.get("/ui/signin", response_class=HTMLResponse, include_in_schema=False)
async def signin_form(
    request: Request,
    next: Annotated[str, Query(max_length=2048)] = "/ui/payments",
    reason: Annotated[str, Query(max_length=300)] = "",
) -> HTMLResponse:
    return page(request, "signin.html", s=None, next=_safe_next(next), reason=reason)


@router.post("/ui/signin", include_in_schema=False, response_model=None)
async def signin(
    request: Request, keys: Annotated[KeyStore, Depends(get_key_store)]
) -> HTMLResponse | RedirectResponse:
    form = await form_fields(request)
    next_url = _safe_next(form.get("next", ""))
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:  # no sign-in from another site
        return page(request, "signin.html", 403, s=None, next=next_url, reason="sign in from this site only")
    secret = form.get("key", "").strip()
    verdict = await keys.check(secret)
    if verdict.principal is None:
        reason = "that key is not valid or was revoked"
        return page(request, "signin.html", 401, s=None, next=next_url, reason=reason)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=SESSION_MAX_AGE_S,
        path="/ui",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


@router.post("/ui/signout", include_in_schema=False)
async def signout(request: Request, s: Signed) -> RedirectResponse:
    s.check_csrf(request, await form_fields(request))
    response = RedirectResponse("/ui/signin?reason=signed%20out", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def install(app: FastAPI) -> None:
    """Add the console to ``app`` (after ``api.errors.install``: its HTML errors wrap the JSON ones)."""
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for r in (router, payments.router, reviews.router, rules.router, models.router, audit.router):
        app.include_router(r)
    json_error = app.exception_handlers[StarletteHTTPException]

    async def need_signin(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        response = RedirectResponse(signin_url(exc.next_url, exc.reason), status_code=303)
        if exc.reason:
            response.delete_cookie(COOKIE, path="/ui")
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        # Console pages answer in HTML; the editor's JSON calls and /v1 keep the JSON error.
        wants_html = "text/html" in request.headers.get("accept", "")
        if not (request.url.path.startswith("/ui/") and wants_html):
            answer = json_error(request, exc)
            return answer if isinstance(answer, Response) else await answer
        assert isinstance(exc, StarletteHTTPException)
        return page(request, "error.html", exc.status_code, s=None, status=exc.status_code, detail=exc.detail)

    app.add_exception_handler(SignInNeeded, need_signin)
    app.add_exception_handler(StarletteHTTPException, http_error)
