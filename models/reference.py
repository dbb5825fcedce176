"""Reference distributions for drift: quantile bins and their fractions, as JSON.

Training stores, for every feature and for the calibrated score, the bin edges
(deciles of the training window's known values, duplicates dropped) and the
fraction of rows in each bin, plus the fraction that was unknown (NaN). Live
traffic is counted into the same bins (``bin_counts``) and compared with the
Population Stability Index (``psi``).

Bin ``i`` holds values ``v`` with ``edges[i-1] <= v < edges[i]``; the last slot
of ``fractions`` is the *missing* bin, so a feature that starts arriving
unknown shows up as drift too.

>>> import numpy as np
>>> ref = distribution(np.array([1.0, 2.0, 3.0, 4.0, np.nan]), quantiles=(0.5,))
>>> ref
{'edges': [2.5], 'fractions': [0.4, 0.4, 0.2]}
>>> bin_counts(np.array([0.0, 9.0, np.nan, np.nan]), ref["edges"]).tolist()
[1.0, 1.0, 2.0]
>>> round(psi(np.array(ref["fractions"]), np.array(ref["fractions"])), 6)
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]

DECILES: tuple[float, ...] = tuple(i / 10 for i in range(1, 10))
#: A bin empty on one side would make PSI infinite; this floor is the usual fix.
PSI_FLOOR = 1e-4


def distribution(values: Vector, quantiles: Sequence[float] = DECILES) -> dict[str, Any]:
    """Quantile edges of the known values and the fraction of all rows per bin (+ missing)."""
    values = np.asarray(values, dtype=np.float64)
    known = values[np.isfinite(values)]
    edges = np.unique(np.quantile(known, quantiles)) if len(known) else np.empty(0)
    counts = bin_counts(values, edges.tolist())
    fractions = counts / max(1.0, float(counts.sum()))
    return {"edges": edges.tolist(), "fractions": fractions.tolist()}


def bin_counts(values: Vector, edges: Sequence[float]) -> Vector:
    """Rows per bin for ``edges`` (``len(edges) + 1`` bins) plus the missing bin."""
    values = np.asarray(values, dtype=np.float64)
    known = np.isfinite(values)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), values[known], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    return np.append(counts, float((~known).sum()))


def psi(reference: Vector, observed: Vector, floor: float = PSI_FLOOR) -> float:
    """Population Stability Index of observed fractions (or counts) against the reference.

    Rule of thumb: < 0.1 stable, 0.1–0.25 a shift worth a look, > 0.25 a real change.
    """
    ref = np.maximum(np.asarray(reference, dtype=np.float64), floor)
    obs = np.asarray(observed, dtype=np.float64)
    total = obs.sum()
    obs = np.maximum(obs / total if total > 0 else obs, floor)
    ref = ref / ref.sum()
    obs = obs / obs.sum()
    return float(np.sum((obs - ref) * np.log(obs / ref)))


def reference_distributions(x: Vector, names: Sequence[str], scores: Vector | None = None) -> dict[str, Any]:
    """The manifest's ``reference`` block: every feature column and, if given, the score."""
    out: dict[str, Any] = {
        "features": {name: distribution(x[:, j]) for j, name in enumerate(names)},
    }
    if scores is not None:
        out["score"] = distribution(scores)
    return out
