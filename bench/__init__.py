"""Benchmarks (`make bench`): per-stage costs of the scoring pipeline and the
real worker end to end (sustained events/s, publish-to-score latency)."""

__all__: list[str] = []
