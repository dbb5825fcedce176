"""Synthetic labelled streams over the catalogue's features (any number of them)."""

from __future__ import annotations

import numpy as np

from features.catalogue import FEATURE_NAMES

N_FEATURES = len(FEATURE_NAMES)
#: A small fixed catalogue for tests of the learning itself, so their thresholds do
#: not move whenever the real catalogue grows (more noise columns, slower SGD).
SYNTH_NAMES = tuple(f"f{i:02d}" for i in range(16))


def features(rng: np.random.Generator, n: int, missing: float = 0.1, width: int = N_FEATURES) -> np.ndarray:
    """Heavy-tailed positive values, like amounts and counts, with some unknown."""
    x = np.exp(rng.normal(2.0, 1.0, size=(n, width)))
    x[rng.random(x.shape) < missing] = np.nan
    return x


def concept(x: np.ndarray, column: int, base: float = -4.0, strength: float = 2.5) -> np.ndarray:
    """True fraud probability: rises with one column's log value (unknown counts as typical)."""
    z = np.nan_to_num((np.log(x[:, column]) - 2.0) / 1.0, nan=0.0)
    return 1.0 / (1.0 + np.exp(-(base + strength * z)))


def flipping_stream(seed: int, before: int, after: int, a: int = 0, b: int = 1, width: int = N_FEATURES):
    """Rows whose fraud depends on column ``a``, then (after ``before`` rows) on column ``b``.

    Returns x, y, the frozen batch model's probability (the truth of the first concept)
    and the true probability.
    """
    rng = np.random.default_rng(seed)
    x = features(rng, before + after, width=width)
    truth = np.concatenate([concept(x[:before], a), concept(x[before:], b)])
    y = (rng.random(len(x)) < truth).astype(np.int8)
    return x, y, concept(x, a), truth


DAY_MS = 86_400_000


def history(seed: int = 0, n: int = 6000, days: float = 60.0, base: float = -4.0):
    """A TrainingSet-like history: fraud depends on columns 0 and 1; labels arrive 1–30 days late."""
    from models.training import NEVER, TrainingSet

    rng = np.random.default_rng(seed)
    x = features(rng, n)
    z0 = np.nan_to_num(np.log(x[:, 0]) - 2.0)
    z1 = np.nan_to_num(np.log(x[:, 1]) - 2.0)
    p = 1.0 / (1.0 + np.exp(-(base + 1.8 * z0 + 1.2 * z1)))
    y = (rng.random(n) < p).astype(np.int8)
    times = np.sort(rng.integers(0, int(days * DAY_MS), size=n)).astype(np.int64) + 1_767_225_600_000
    delay = rng.integers(DAY_MS, 30 * DAY_MS, size=n)
    reported = np.where(y == 1, times + delay, NEVER).astype(np.int64)
    return TrainingSet(x=x, y=y, times_ms=times, fraud_reported_ms=reported)
