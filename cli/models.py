"""`riskwire models`: the registry from the command line (list, promote, roll back, shadow).

The same operations as ``/v1/models`` in the API, on ``RISKWIRE_MODEL_DIR``:
every change is verified first (each artefact's SHA-256 against its manifest),
and running workers follow within seconds, between batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from models.loading import ModelRegistry

_DIR = click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Registry directory (default: RISKWIRE_MODEL_DIR).",
)


def _registry(model_dir: Path | None) -> ModelRegistry:
    # Imported here: the models package loads XGBoost and River (slow for `--help`).
    from contracts.settings import get_settings
    from models.loading import ModelRegistry

    return ModelRegistry(model_dir or get_settings().model_dir)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


@click.group("models")
def models() -> None:
    """Model versions: list them, promote one, roll back, score a candidate in shadow."""


@models.command("list")
@_DIR
def list_models(model_dir: Path | None) -> None:
    """Versions, newest first, with their model cards' headline figures."""
    from models.errors import ModelError, ModelNotFoundError

    registry = _registry(model_dir)
    try:
        current: str | None = registry.current()
    except ModelNotFoundError:
        current = None
    shadow = registry.shadow()
    click.echo(f"{'version':<28} {'state':<8} {'cutoff':<26} {'trees':>5} {'AUC':>6} {'AP':>6}")
    for version in reversed(registry.versions()):
        state = "current" if version == current else "shadow" if version == shadow else ""
        try:
            card = registry.load(version).manifest
        except ModelError as exc:
            click.echo(f"{version:<28} refused: {exc}")
            continue
        m = card.get("metrics", {})
        cutoff = card.get("labels", {}).get("cutoff", "-")
        click.echo(
            f"{version:<28} {state:<8} {cutoff:<26} {_fmt(m.get('trees')):>5} "
            f"{_fmt(m.get('validation_auc_roc')):>6} {_fmt(m.get('validation_average_precision')):>6}"
        )


def _change(action: str, work: Any) -> None:
    from models.errors import ModelError

    try:
        result = work()
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{action}: {result}")


@models.command("promote")
@click.argument("version")
@_DIR
def promote(version: str, model_dir: Path | None) -> None:
    """Make VERSION current (verified first)."""
    registry = _registry(model_dir)

    def run() -> str:
        registry.promote(version)
        return version

    _change("current", run)


@models.command("rollback")
@_DIR
def rollback(model_dir: Path | None) -> None:
    """Make the previously current version current again."""
    _change("current", _registry(model_dir).rollback)


@models.command("shadow")
@click.argument("version", required=False)
@_DIR
def shadow(version: str | None, model_dir: Path | None) -> None:
    """Score VERSION in shadow next to the current model (never acted on); no VERSION stops it."""
    registry = _registry(model_dir)

    def run() -> str:
        registry.set_shadow(version)
        return version or "none"

    _change("shadow", run)
