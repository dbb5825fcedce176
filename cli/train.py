"""`riskwire train`: history files → a verified model version in the registry."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from contracts.settings import get_settings


def train_model(transactions: Path, labels: Path, model_dir: Path, seed: int) -> str:
    """Train and register a model; returns its version."""
    from cli.history import read_labels, read_transactions
    from models.registry import ModelRegistry
    from models.training import build_training_set, train

    started = time.monotonic()
    txs = read_transactions(transactions)
    labs = read_labels(labels)
    click.echo(f"read {len(txs):,} transactions and {len(labs):,} labels")
    with click.progressbar(length=len(txs), label="computing point-in-time features") as bar:
        data = build_training_set(txs, labs, progress=bar.update)
    click.echo(f"training on {len(data.y):,} events ({int(data.y.sum()):,} frauds) ...")
    result = train(data, seed=seed)
    ModelRegistry(model_dir).save(result.version, result.model_bytes, result.manifest)
    m = result.manifest["metrics"]
    click.echo(
        f"model {result.version}: {m['trees']} trees, validation AUC {m['validation_auc_roc']:.3f}, "
        f"average precision {m['validation_average_precision']:.3f} "
        f"({time.monotonic() - started:.1f} s) → {model_dir}"
    )
    return result.version


@click.command()
@click.option("--transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Registry directory (default: RISKWIRE_MODEL_DIR).",
)
@click.option("--seed", default=7, show_default=True)
@click.option("--json-out", is_flag=True, help="Print the manifest as JSON at the end.")
def train_cmd(transactions: Path, labels: Path, model_dir: Path | None, seed: int, json_out: bool) -> None:
    """Train the XGBoost batch model on history files and register it as current."""
    directory = model_dir or get_settings().model_dir
    version = train_model(transactions, labels, directory, seed)
    if json_out:
        from models.registry import ModelRegistry

        click.echo(json.dumps(ModelRegistry(directory).load(version).manifest, indent=2))
