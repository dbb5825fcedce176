"""Synthetic labelled streams over the catalogue's features (any number of them)."""

from __future__ import annotations

import numpy as np

from features.catalogue import FEATURE_NAMES

N_FEATURES = len(FEATURE_NAMES)


def features(rng: np.random.Generator, n: int, missing: float = 0.1) -> np.ndarray:
    """Heavy-tailed positive values, like amounts and counts, with some unknown."""
    x = np.exp(rng.normal(2.0, 1.0, size=(n, N_FEATURES)))
    x[rng.random(x.shape) < missing] = np.nan
    return x


def concept(x: np.ndarray, column: int, base: float = -4.0, strength: float = 2.5) -> np.ndarray:
    """True fraud probability: rises with one column's log value (unknown counts as typical)."""
    z = np.nan_to_num((np.log(x[:, column]) - 2.0) / 1.0, nan=0.0)
    return 1.0 / (1.0 + np.exp(-(base + strength * z)))


def flipping_stream(seed: int, before: int, after: int, a: int = 0, b: int = 1):
    """Rows whose fraud depends on column ``a``, then (after ``before`` rows) on column ``b``.

    Returns x, y, the frozen batch model's probability (the truth of the first concept)
    and the true probability.
    """
    rng = np.random.default_rng(seed)
    x = features(rng, before + after)
    truth = np.concatenate([concept(x[:before], a), concept(x[before:], b)])
    y = (rng.random(len(x)) < truth).astype(np.int8)
    return x, y, concept(x, a), truth
