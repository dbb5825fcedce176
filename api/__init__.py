"""The analyst and integration API: FastAPI routers over the decision store,
wired in ``api.main.create_app``; resources open in its lifespan.
"""

from api.main import create_app

__all__ = ["create_app"]
