"""One error body for every error (``{"detail": "..."}``) and the OpenAPI entries for them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorBody
from store.at_rest import AtRestError
from store.database import DatabaseUnreachable

log = logging.getLogger(__name__)

_DESCRIPTIONS = {
    400: "Malformed request body (e.g. not UTF-8)",
    401: "Missing, invalid or revoked API key",
    403: "The key's role or account does not allow this",
    404: "Not found (or not visible to this key's account)",
    409: "Conflicts with the resource's state",
    413: "Request body larger than the configured cap",
    422: "The request does not match the schema",
    429: "Too many requests for this key; retry after `Retry-After` seconds",
    503: "A backing service (Redis, Kafka, PostgreSQL) is unavailable",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {"description": "Seconds until a request is allowed", "schema": {"type": "integer"}}
    },
}

#: What every route behind a key can answer (checking the key needs Redis: 503 when it is down).
PROTECTED = (401, 403, 429, 503)
#: What any route that takes a JSON body can answer about the body itself.
BODY = (400, 413, 422)


class ServiceUnavailable(Exception):
    """A backing service failed; answered 503 with the message."""


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error status codes, all with ``ErrorBody``."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def validation_message(errors: list[Any], limit: int = 10) -> str:
    parts = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors[:limit]]
    if len(errors) > limit:
        parts.append(f"… and {len(errors) - limit} more")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into ``ErrorBody``."""

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, validation_message(list(exc.errors())))

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        if isinstance(exc, ServiceUnavailable):
            return error_response(503, f"service unavailable: {exc}")
        return error_response(
            503, "database unavailable" if isinstance(exc, DatabaseUnreachable) else "redis unavailable"
        )

    async def sealed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "a stored value cannot be decrypted: check RISKWIRE_AT_REST_KEYS")

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    for cls in (ServiceUnavailable, RedisConnectionError, RedisTimeoutError, DatabaseUnreachable):
        app.add_exception_handler(cls, unavailable)
    app.add_exception_handler(AtRestError, sealed)
    app.add_exception_handler(Exception, crashed)


def without_paths(message: str, root: Path) -> str:
    """``message`` with the server's folder ``root`` left out: answers never show file paths."""
    for form in {str(root.resolve()), str(root)}:
        message = message.replace(f" in {form}", "").replace(form, "the model registry")
    return message
