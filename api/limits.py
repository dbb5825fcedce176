"""The request body cap: 413 without reading more than the cap.

A declared ``Content-Length`` over the cap is refused before the application
runs. Otherwise the bytes actually received are counted as the application
reads them (chunked uploads declare no length), and the read that crosses the
cap raises a 413 that FastAPI answers through the usual error handler.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int) -> None:
        super().__init__(status_code=413, detail=f"request body over {cap} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await error_response(400, "invalid Content-Length")(scope, receive, send)
            return
        if declared is not None and declared > self.max_bytes:
            await error_response(413, f"request body over {self.max_bytes} bytes", {"Connection": "close"})(
                scope, receive, send
            )
            return
        received = 0
        cap = self.max_bytes

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                n = int(value)
            except ValueError:
                return -1
            return n if n >= 0 else -1
    return None
