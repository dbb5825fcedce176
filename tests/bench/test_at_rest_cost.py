"""The bench's encryption-at-rest figure: both paths measured on the same records."""

from __future__ import annotations

import orjson
import pytest
import redis

from bench.at_rest_cost import PREFIX, measure

pytestmark = pytest.mark.services


def test_the_figure_times_the_plain_and_the_sealed_path(services):
    records = [orjson.dumps({"event_id": f"e{i}", "features": list(range(300))}) for i in range(700)]
    client = redis.Redis.from_url(services.redis_url)
    got = measure(client, records, repeat=1)
    assert got["at_rest_records"] == 700
    assert got["at_rest_record_bytes"] == sum(map(len, records)) / 700
    assert got["at_rest_sealed_bytes"] > got["at_rest_record_bytes"]
    for name in ("plain", "sealed", "seal", "open"):
        assert got[f"at_rest_{name}_us_per_event"] > 0
    assert not client.keys(PREFIX + "*")  # it cleans up after itself
