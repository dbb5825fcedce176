"""The one exception every embedded-services failure raises, so callers catch a single type."""

from __future__ import annotations

from contracts.errors import RiskwireError


class EmbeddedServiceError(RiskwireError, RuntimeError):
    """An embedded broker or Redis could not be found, started, reached or stopped."""
