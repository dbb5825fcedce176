"""The stores' Lua scripts, one file each in ``store/lua/``, read once at import.

A script that names keys beyond its ``KEYS`` receives their prefix as its first argument
(``local P = table.remove(ARGV, 1)``), so ``store.layout`` stays the one place key names
are made.

>>> "redis.call" in script("decision_index")
True
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["script"]

_DIR = files("store").joinpath("lua")


def script(name: str) -> str:
    """The text of ``store/lua/<name>.lua``."""
    return _DIR.joinpath(f"{name}.lua").read_text()
