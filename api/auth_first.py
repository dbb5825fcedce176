"""A route class that authenticates before the request body is read.

FastAPI parses a JSON body before it resolves any dependency, so without a key a
malformed body answered 422 and told an anonymous caller about the route's schema.
Routers of protected routes use ``route_class=AuthFirstRoute``: the bearer key is
checked (401, 429) first; the role dependencies then reuse that check.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.dependencies import bearer, check_key

__all__ = ["AuthFirstRoute"]


class AuthFirstRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated_first(request: Request) -> Response:
            await check_key(request, await bearer(request))
            return await handler(request)

        return authenticated_first
