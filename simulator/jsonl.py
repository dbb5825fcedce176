"""JSON Lines files, the interchange format of every riskwire verb.

Compact separators and a fixed key order make the files byte-identical for a
seed, so a dataset can be checked with a hash rather than a diff.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def dumps(record: dict[str, Any]) -> str:
    """One record as compact JSON (UTF-8 text, no spaces, keys in record order)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line (creating parent folders); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(dumps(record))
            f.write("\n")
            n += 1
    return n


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSON Lines file, skipping blank lines.

    A malformed line raises ``ValueError`` naming the file and line, because a
    silently skipped event would change every feature computed after it.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object")
            yield record
