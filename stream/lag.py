"""Consumer lag as the broker sees it: highwater − the group's committed offset.

Asked with a plain confluent-kafka client (watermarks uncached, committed offsets by
OffsetFetch; it never joins the group): aiokafka's ``end_offsets`` inside the worker
answered stale highwaters, and the fetch position hides a stuck batch. Tansu's
ListOffsets answers the last *batch's* base offset + 1 (measured: 111 records in 3
batches gave 12), so the worker also takes the highwater its fetches saw.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

Offsets = dict[tuple[str, int], int]


class LagProbe:
    def __init__(self, bootstrap: str, group: str, timeout_s: float = 5.0) -> None:
        self._timeout = timeout_s
        self._client = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "log_level": 0,  # outages are reported by the worker, not by librdkafka
            }
        )

    def measure(self, tps: list[tuple[str, int]]) -> tuple[Offsets, Offsets]:
        """(highwaters, committed) of ``tps``; never committed: the partition's low mark.
        Blocking: run it in a thread."""
        high: Offsets = {}
        low: Offsets = {}
        for topic, partition in tps:
            lo, hi = self._client.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self._timeout, cached=False
            )
            low[(topic, partition)], high[(topic, partition)] = lo, hi
        asked = [TopicPartition(t, p) for t, p in tps]
        committed = {
            (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else low[(tp.topic, tp.partition)]
            for tp in self._client.committed(asked, timeout=self._timeout)
        }
        return high, committed

    def close(self) -> None:
        self._client.close()
