"""Checking output paths before the work starts (not after an hour of it)."""

from __future__ import annotations

import os
from pathlib import Path

import click


def output_file(_ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A click callback: the file's directory must exist and be writable; nothing is created."""
    if value is None:
        return None
    parent = value.parent if str(value.parent) else Path(".")
    if not parent.is_dir():
        raise click.BadParameter(f"directory {str(parent)!r} does not exist: create it first", param=param)
    if not os.access(parent, os.W_OK):
        raise click.BadParameter(f"directory {str(parent)!r} is not writable", param=param)
    if value.is_dir():
        raise click.BadParameter(f"{str(value)!r} is a directory, not a file", param=param)
    return value
