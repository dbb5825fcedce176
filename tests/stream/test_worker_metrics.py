"""The worker's Prometheus series follow Prometheus naming (issue 15, item 6): counters
for counts (``_total``), units in names, no ``_created`` series, process metrics."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stream.metrics import WorkerMetrics


def _families() -> dict[str, str]:
    metrics = WorkerMetrics()
    metrics.online_learned.inc(3)
    metrics.lag.labels("0").set(7)
    metrics.events.labels("scored").inc(2)
    metrics.batch_seconds.observe(0.01)
    text = generate_latest(metrics.registry).decode()
    assert "_created" not in text, "no _created series"
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_counts_are_counters_and_units_are_in_names():
    families = _families()
    assert families["riskwire_online_learned"] == "counter"
    assert families["riskwire_events"] == "counter"
    assert families["riskwire_consumer_lag_messages"] == "gauge"
    assert "riskwire_consumer_lag" not in families
    for name, kind in families.items():
        if name.startswith("riskwire_") and kind == "histogram":
            assert name.endswith(("_seconds", "_size")), name


def test_process_metrics_are_exported():
    families = _families()
    for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_start_time_seconds"):
        assert name in families, name
    assert "python_info" in families
