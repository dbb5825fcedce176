"""Benchmarks (`make bench`, `python -m bench`): the hot path's figures beside their peers.

One run on one embedded broker, one Redis and one set of simulated payments measures
the real worker (sustained events/s with payments waiting, publish-to-score latency
at a steady rate, Redis CPU per event from the servers' own counters) beside a
decode-only agent on the same Faust app (``decode_only``) and a plain
consume-and-forward (``forward``), `riskwire replay` over the same payments, and the
pipeline's per-stage costs (``stages``); ``report`` prints the final table with the
targets and writes it as JSON, ``stats`` holds the arithmetic (unit-tested in
tests/bench/).
"""

__all__: list[str] = []
