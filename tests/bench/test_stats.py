"""The bench's pure arithmetic (no services)."""

from __future__ import annotations

import pytest

from bench.stats import (
    at_least,
    at_most,
    cpu_delta_s,
    cpu_seconds,
    latencies_ms,
    marginal_rate,
    per_event_us,
    percentile,
    ratio,
    sustained_rate,
)


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile(values, 0.0) == 1
    assert percentile(reversed(values), 0.99) == 99  # order does not matter
    assert percentile(range(1, 1001), 0.99) == 990
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 99)


def test_sustained_rate_counts_outputs_after_the_first_poll() -> None:
    # 3 outputs with the first poll at t=10, then 4 more until t=12: 4 events in 2 s.
    arrivals = [10.0, 10.0, 10.0, 11.0, 11.0, 11.5, 12.0]
    rate, counted, span = sustained_rate(arrivals)
    assert (rate, counted, span) == (2.0, 4, 2.0)
    assert sustained_rate(reversed(arrivals))[0] == 2.0


def test_sustained_rate_needs_two_instants() -> None:
    with pytest.raises(ValueError):
        sustained_rate([1.0, 1.0])
    with pytest.raises(ValueError):
        sustained_rate([])


def test_latencies_from_send_to_arrival() -> None:
    assert latencies_ms({"a": 1.0, "b": 2.0}, {"a": 1.25, "b": 2.5, "c": 9.0}) == [250.0, 500.0]
    with pytest.raises(ValueError, match="1 of 2"):
        latencies_ms({"a": 1.0, "b": 2.0}, {"a": 1.5})


def test_cpu_seconds_and_deltas_over_nodes() -> None:
    assert cpu_seconds({"used_cpu_sys": "1.5", "used_cpu_user": 2.25, "used_cpu_sys_children": 9}) == 3.75
    before = {
        "n1:1": {"used_cpu_sys": 1.0, "used_cpu_user": 2.0},
        "n2:2": {"used_cpu_sys": 0, "used_cpu_user": 0},
    }
    after = {
        "n1:1": {"used_cpu_sys": 1.5, "used_cpu_user": 3.0},
        "n2:2": {"used_cpu_sys": 0.25, "used_cpu_user": 0.5},
    }
    assert cpu_delta_s(before, after) == pytest.approx(2.25)
    assert per_event_us(cpu_delta_s(before, after), 45_000) == pytest.approx(50.0)


def test_cpu_deltas_refuse_changed_or_restarted_nodes() -> None:
    one = {"n1:1": {"used_cpu_sys": 5.0, "used_cpu_user": 5.0}}
    with pytest.raises(ValueError, match="nodes changed"):
        cpu_delta_s(one, {"n2:2": {"used_cpu_sys": 6.0, "used_cpu_user": 6.0}})
    with pytest.raises(ValueError, match="backwards"):
        cpu_delta_s(one, {"n1:1": {"used_cpu_sys": 0.1, "used_cpu_user": 0.1}})
    with pytest.raises(ValueError, match="lacks"):
        cpu_seconds({"used_cpu_sys": 1.0})


def test_ratio_marginal_rate_and_targets() -> None:
    assert ratio(2.0, 4.0) == 0.5
    assert ratio(None, 4.0) is None and ratio(1.0, 0.0) is None
    assert marginal_rate(10_000, 5.0, 4.0) == 10_000.0
    with pytest.raises(ValueError):
        marginal_rate(10, 3.0, 4.0)
    with pytest.raises(ValueError):
        per_event_us(1.0, 0)
    assert at_least(4000, "").met(4000.0) is True
    assert at_least(4000, "").met(3999.0) is False
    assert at_most(50, "").met(50.0) is True
    assert at_most(50, "").met(None) is None


def test_replay_rate_takes_out_the_start_up_when_it_can() -> None:
    from bench.stats import replay_rate

    assert replay_rate(30_000, 5.0, 2.0) == (10_000.0, True)
    assert replay_rate(2_000, 2.5, 3.3) == (800.0, False)  # start-up measured longer: not subtracted
    with pytest.raises(ValueError):
        replay_rate(0, 1.0, 0.5)


def test_replay_reported_seconds() -> None:
    from bench.stats import replay_reported_s

    log = b"replaying 5 payments\nscoring [####] 100%\n"
    log += b"wrote 30,000 decision records to /tmp/x y.jsonl (12.3 s)\n"
    assert replay_reported_s(log) == 12.3
    assert replay_reported_s(b"Traceback ...") is None
