"""`riskwire train`: history files → a verified model version in the registry."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.progress import Progress

ROUNDS = 300  # XGBoost boosting rounds at most (models.training.train's default)
GRID_SIZE = 2  # tree shapes the training search tries (len(models.search.GRID), checked by a test)


def train_model(
    transactions: Path,
    labels: Path,
    model_dir: Path,
    seed: int,
    cutoff: datetime | None = None,
    maturity_days: float | None = None,
    min_validation_frauds: int = 0,
) -> str:
    """Train and register a model; returns its version.

    ``cutoff``: train as if it were that moment — only labels reported by then
    count, and events too young for their chargebacks to be in are left out.
    """
    from cli.history import read_labels, read_transactions
    from contracts.settings import get_settings
    from models.loading import ModelRegistry
    from models.training import build_training_set, train

    settings = get_settings()
    started = time.monotonic()
    txs = read_transactions(transactions)
    labs = read_labels(labels)
    click.echo(f"read {len(txs):,} transactions and {len(labs):,} labels")
    with Progress(len(txs), "computing point-in-time features") as bar:
        data = build_training_set(txs, labs, progress=bar.update, grace_ms=get_settings().late_grace_s * 1000)
    click.echo(f"training on {len(data.y):,} events (latest labels: {int(data.y.sum()):,} frauds) ...")
    # At most this many rounds per tree shape tried: early stopping usually ends sooner.
    with Progress(ROUNDS * GRID_SIZE, "boosting rounds", unit="rounds") as rounds:
        try:
            result = train(
                data,
                seed=seed,
                rounds=ROUNDS,
                cutoff_ms=None if cutoff is None else int(cutoff.timestamp() * 1000),
                maturity_ms=None if maturity_days is None else int(maturity_days * 86_400_000),
                round_progress=rounds.update,
                block_precision=settings.block_precision,
                reviews_per_day=settings.reviews_per_day,
                elevated=settings.elevated_threshold,
            )
        except ValueError as exc:  # too little history: say so in one line
            raise click.ClickException(str(exc)) from None
    m, lab = result.manifest["metrics"], result.manifest["labels"]
    if m["validation_frauds"] < min_validation_frauds:
        # Kept (it can be promoted by hand) but not served: a few frauds make its
        # validation metrics and calibration noise.
        ModelRegistry(model_dir).save(result.version, result.model_bytes, result.manifest, promote=False)
        raise click.ClickException(
            f"model {result.version} not made current: its validation window has "
            f"{m['validation_frauds']} frauds, fewer than the {min_validation_frauds} needed to trust it "
            f"(RISKWIRE_TRAIN_MIN_VALIDATION_FRAUDS); give more history, or --force"
        )
    ModelRegistry(model_dir).save(result.version, result.model_bytes, result.manifest)
    if (pol := result.manifest.get("decision_policy")) is not None:
        click.echo(
            f"decisions: block from risk score {pol['block_from']} "
            f"(about {pol['expected_blocks_per_day']:.1f} a day), review from {pol['review_from']} "
            f"(about {pol['expected_reviews_per_day']:.1f} a day, capacity {pol['reviews_per_day']:g})"
        )
    click.echo(
        f"labels known at the cutoff {lab['cutoff']}; events after {lab['mature_until']} left out "
        f"({lab['immature_rows_excluded']:,} too young for their chargebacks)"
    )
    click.echo(
        f"model {result.version}: {m['trees']} trees on {m['train_rows']:,} events "
        f"({m['train_frauds']:,} frauds); validation AUC {_num(m['validation_auc_roc'])}, "
        f"average precision {_num(m['validation_average_precision'])}, "
        f"calibration error {_num(m['validation_reliability_error'])} "
        f"({time.monotonic() - started:.1f} s) → {model_dir}"
    )
    return result.version


def train_unsupervised(transactions: Path, labels: Path | None, model_dir: Path, seed: int) -> str:
    """Fit and register the cold-start anomaly model (``models.anomaly``); returns its version.

    Labels are optional: when given, the model card says how well the anomaly score
    ranks the frauds already known (the figure the supervised model should beat).
    """
    from cli.history import read_labels, read_transactions
    from contracts.settings import get_settings
    from models.anomaly import train_anomaly
    from models.loading import ModelRegistry
    from models.training import build_training_set

    settings = get_settings()
    started = time.monotonic()
    txs = read_transactions(transactions)
    labs = read_labels(labels) if labels is not None else []
    click.echo(f"read {len(txs):,} transactions and {len(labs):,} labels")
    if len(txs) < 100:
        raise click.ClickException(f"{len(txs)} transactions: the anomaly model needs at least 100")
    with Progress(len(txs), "computing point-in-time features") as bar:
        data = build_training_set(txs, labs, progress=bar.update, grace_ms=settings.late_grace_s * 1000)
    click.echo(f"fitting Half-Space Trees on {len(data.x):,} events (no labels used) ...")
    version, body, manifest = train_anomaly(
        data.x,
        data.times_ms,
        data.y if labs else None,
        seed=seed,
        contamination=settings.anomaly_contamination,
        reviews_per_day=settings.reviews_per_day,
    )
    ModelRegistry(model_dir).save(version, body, manifest)
    pol, m = manifest["decision_policy"], manifest["metrics"]
    click.echo(
        f"decisions: review from risk score {pol['review_from']} "
        f"(about {pol['expected_reviews_per_day']:.1f} a day, capacity {pol['reviews_per_day']:g}); "
        "never blocks"
    )
    known = (
        f"; on the {m['known_frauds']:,} known frauds: AUC {m['known_frauds_auc_roc']:.3f}, "
        f"average precision {m['known_frauds_average_precision']:.3f}"
        if "known_frauds" in m
        else ""
    )
    click.echo(
        f"anomaly model {version}: {manifest['anomaly']['n_trees']} half-space trees on "
        f"{m['train_rows']:,} events{known} ({time.monotonic() - started:.1f} s) → {model_dir}"
    )
    return version


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@click.command()
@click.option("--transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Labels file (required, except with --unsupervised).",
)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Registry directory (default: RISKWIRE_MODEL_DIR).",
)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--cutoff",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Train as of this UTC time: labels reported later are unknown (default: the end of the files).",
)
@click.option(
    "--maturity-days",
    type=click.FloatRange(min=0),
    default=None,
    help="Leave out events this young at the cutoff: their chargebacks are not in yet "
    "(default: a fifth of the history, at most 30).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Make the model current even when its validation window has too few frauds to trust.",
)
@click.option(
    "--unsupervised",
    is_flag=True,
    help="Cold start without labels: fit an anomaly model (River's Half-Space Trees) instead; "
    "labels, if given, only measure it.",
)
@click.option("--json-out", is_flag=True, help="Print the manifest as JSON at the end.")
def train_cmd(
    transactions: Path,
    labels: Path | None,
    model_dir: Path | None,
    seed: int,
    cutoff: datetime | None,
    maturity_days: float | None,
    force: bool,
    unsupervised: bool,
    json_out: bool,
) -> None:
    """Train the XGBoost batch model on history files and register it as current.

    Time-based and label-delay aware: validation is the last mature window,
    probabilities are calibrated on it, and the manifest is the model card.
    """
    from contracts.settings import get_settings

    directory = model_dir or get_settings().model_dir
    if unsupervised:
        version = train_unsupervised(transactions, labels, directory, seed)
    else:
        if labels is None:
            raise click.UsageError("--labels is required (or --unsupervised for the cold start)")
        when = None if cutoff is None else cutoff.replace(tzinfo=UTC)
        least = 0 if force else get_settings().train_min_validation_frauds
        version = train_model(transactions, labels, directory, seed, when, maturity_days, least)
    if json_out:
        from models.loading import ModelRegistry

        click.echo(json.dumps(ModelRegistry(directory).load(version).manifest, indent=2))
