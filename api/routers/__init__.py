"""The API's routers, one per resource."""

from api.routers import decisions, health

__all__ = ["decisions", "health"]
