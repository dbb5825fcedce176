"""`riskwire bench`: the benchmarks of ``bench/`` (the same as `make bench`).

The options are the bench's own (``python -m bench --help``), passed through unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command(
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Measure the worker beside its peers (decode-only agent, broker hop) and the pipeline's stages.

    Options (--events, --rate, --seconds, --cards, --json, --no-api, ...): see `riskwire bench --help`.
    """
    # bench/ is not an installed package: it lives beside cli/ in a source checkout.
    root = Path(__file__).resolve().parent.parent
    if not (root / "bench" / "__main__.py").is_file():
        raise click.ClickException("the benchmarks run from a source checkout: `make bench` there")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    if {"-h", "--help"} & set(args):
        from bench.options import parse_args  # light: the help needs none of the bench's imports

        parse_args(["--help"], prog="riskwire bench")
    from bench.__main__ import main

    raise SystemExit(main(list(args), prog="riskwire bench"))
