"""The `riskwire` command line: one verb per module in this package.

Every verb module imports only click at its top; the heavy libraries load inside the
verbs, so that `riskwire --help` is fast (tests/cli/test_cli_fast.py).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from cli.backfill import backfill_cmd
from cli.db import db
from cli.demo import demo
from cli.errors import one_line
from cli.evaluate import evaluate
from cli.keys import keys
from cli.models import models
from cli.replay import replay_cmd
from cli.services import services
from cli.simulate import simulate
from cli.topics import topics
from cli.train import train_cmd
from cli.worker import api, worker


class RiskwireGroup(click.Group):
    """A group that turns whatever escapes a verb into one line (see cli.errors)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """click's main, but a usage error is one line too (click prints the usage and a
        hint above it): the message, and where the help is."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "riskwire"
            click.echo(f"Error: {exc.format_message()} (see `{where} --help`)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise one_line(exc) from None


@click.group(cls=RiskwireGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--debug", is_flag=True, help="Show tracebacks and debug logs (an error is otherwise one line)."
)
def main(debug: bool) -> None:
    """riskwire: streaming fraud and risk scoring on Kafka, Redis, XGBoost and SHAP."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here


main.add_command(services)
main.add_command(topics)
main.add_command(simulate)
main.add_command(train_cmd, "train")
main.add_command(backfill_cmd, "backfill")
main.add_command(worker)
main.add_command(api)
main.add_command(demo)
main.add_command(evaluate)
main.add_command(keys)
main.add_command(models)
main.add_command(replay_cmd, "replay")
main.add_command(db)
