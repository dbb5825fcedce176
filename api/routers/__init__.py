"""The API's routers, one per resource."""

from api.routers import audit, decisions, health, keys, labels, reviews

__all__ = ["audit", "decisions", "health", "keys", "labels", "reviews"]
