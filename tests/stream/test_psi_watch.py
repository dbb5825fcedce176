"""The worker's PSI watch: gauges for every feature, one alert per crossing."""

from __future__ import annotations

import numpy as np

from contracts.settings import Settings
from features.catalogue import FEATURE_INDEX, FEATURE_NAMES
from models.reference import reference_distributions
from stream.metrics import WorkerMetrics
from stream.psi_watch import PsiWatch


def test_a_shift_in_one_feature_alerts_once_and_shows_in_the_gauges():
    rng = np.random.default_rng(0)
    reference = reference_distributions(
        rng.lognormal(2.0, 1.0, (5000, len(FEATURE_NAMES))), FEATURE_NAMES, scores=rng.beta(1, 30, 5000)
    )
    settings = Settings(psi_check_every_s=10.0, psi_min_observed=1000, psi_alert_threshold=0.25)
    metrics = WorkerMetrics()
    watch = PsiWatch(settings, metrics, reference)
    assert watch.check(now=1e9) == []  # nothing counted yet

    same = rng.lognormal(2.0, 1.0, (3000, len(FEATURE_NAMES)))
    watch.monitor.update(same, rng.beta(1, 30, 3000))
    assert watch.check(now=2e9) == []
    shifted = rng.lognormal(2.0, 1.0, (6000, len(FEATURE_NAMES)))
    shifted[:, FEATURE_INDEX["amount"]] *= 8  # amounts jump: a holiday season, a new fraud wave
    watch.monitor.update(shifted, rng.beta(1, 30, 6000))
    assert watch.check(now=2e9 + 1) == [], "checked at most every psi_check_every_s"
    first = watch.check(now=3e9)
    assert [e.detector for e in first] == ["psi:amount"] and first[0].details["psi"] > 0.25
    assert watch.check(now=4e9) == [], "still drifted: not reported again"
    gauge = metrics.registry.get_sample_value("riskwire_psi", {"feature": "amount"})
    assert gauge is not None and gauge > 0.25
    assert metrics.registry.get_sample_value("riskwire_psi_max") == gauge, "the summary is the largest"
    exported = {
        s.labels["feature"] for m in metrics.registry.collect() if m.name == "riskwire_psi" for s in m.samples
    }
    # The top k features (amount first) and the score: not one series per feature.
    assert len(exported) == settings.psi_top_k + 1 and {"amount", "score"} <= exported
    watch.reset(reference)
    assert watch.firing == set() and watch.monitor.observed == 0
