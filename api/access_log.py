"""Access logs without query strings: searches carry card, customer and e-mail values.

uvicorn logs each request to ``uvicorn.access`` with the path and its query string as
one argument; this filter cuts the query off before anything formats the record.
"""

from __future__ import annotations

import logging

__all__ = ["DropQueryStrings", "install"]

ACCESS_LOGGER = "uvicorn.access"


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
