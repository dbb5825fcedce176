"""The `riskwire` command line: one verb per module in this package."""

from __future__ import annotations

import logging

import click

from cli.backfill import backfill_cmd
from cli.bench import bench
from cli.demo import demo
from cli.evaluate import evaluate
from cli.keys import keys
from cli.models import models
from cli.replay import replay_cmd
from cli.services import services
from cli.simulate import simulate
from cli.train import train_cmd
from cli.worker import api, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """riskwire: streaming fraud and risk scoring on Kafka, Redis, XGBoost and SHAP."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here


main.add_command(services)
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
main.add_command(bench)
