"""Reading history files (JSON Lines) into validated records, reporting bad lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from pydantic import ValidationError

from contracts.records import Label, Transaction
from pipeline.decode import Rejected, decode

NO_LIMIT = 1 << 62


def read_transactions(path: Path) -> list[Transaction]:
    """Valid transactions of a file; malformed lines are counted and reported."""
    out: list[Transaction] = []
    bad = 0
    for number, line in _lines(path):
        result = decode(line, max_bytes=NO_LIMIT, now_ms=NO_LIMIT, max_future_ms=0)
        if isinstance(result, Rejected):
            bad += 1
            if bad <= 3:
                click.echo(f"{path}:{number}: skipped: {result.error}", err=True)
        else:
            out.append(result)
    if bad:
        click.echo(f"{path}: {bad} malformed lines skipped", err=True)
    return out


def read_labels(path: Path) -> list[Label]:
    out: list[Label] = []
    for number, line in _lines(path):
        try:
            out.append(Label.model_validate_json(line))
        except ValidationError as exc:
            click.echo(f"{path}:{number}: skipped label: {exc.errors()[0]['msg']}", err=True)
    return out


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, line.rstrip(b"\n")
