"""Watching live traffic against the batch model's training window (PSI).

The worker's handler counts every batch's features and scores (the pipeline's
``BatchReport``) into the reference bins of the model card (``models.drift.PsiMonitor``: decayed counts,
a few numbers per feature). Between batches, at most every
``psi_check_every_s``, the worker exports each PSI as a gauge and reports a
feature or the score whose PSI crossed ``psi_alert_threshold`` — once per
crossing, not once per check — so on-call hears of a shift in the inputs
before the labels that would show it arrive weeks later.
"""

from __future__ import annotations

import time
from typing import Any

from contracts.settings import Settings
from models.drift import DriftEvent, PsiMonitor
from stream.metrics import WorkerMetrics

SCORE = "score"  # PsiMonitor's name for the score distribution


class PsiWatch:
    def __init__(self, settings: Settings, metrics: WorkerMetrics, reference: dict[str, Any]) -> None:
        self.settings = settings
        self.metrics = metrics
        self.monitor = PsiMonitor(reference, half_life=settings.psi_half_life)
        self.firing: set[str] = set()
        self._checked = time.monotonic()

    def reset(self, reference: dict[str, Any]) -> PsiMonitor:
        """A new batch model: a new reference, counts from zero."""
        self.monitor = PsiMonitor(reference, half_life=self.settings.psi_half_life)
        self.firing = set()
        return self.monitor

    def check(self, now: float | None = None) -> list[DriftEvent]:
        """Export the gauges; return the detectors that started firing since the last check."""
        now = time.monotonic() if now is None else now
        if now - self._checked < self.settings.psi_check_every_s:
            return []
        self._checked = now
        self._export(self.monitor.psi())
        s = self.settings
        drifted = self.monitor.drifted(threshold=s.psi_alert_threshold, min_observed=s.psi_min_observed)
        new = [e for e in drifted if e.detector not in self.firing]
        self.firing = {e.detector for e in drifted}
        return new

    def _export(self, psi: dict[str, float]) -> None:
        """The score's PSI, the top-k features' and the largest one: not ~90 series."""
        features = {name: value for name, value in psi.items() if name != SCORE}
        top = sorted(features, key=lambda n: features[n], reverse=True)[: self.settings.psi_top_k]
        gauge = self.metrics.psi
        gauge.clear()  # a feature that left the top k must not linger with an old value
        for name in [*top, *([SCORE] if SCORE in psi else [])]:
            gauge.labels(name).set(psi[name])
        self.metrics.psi_max.set(max(features.values(), default=0.0))
