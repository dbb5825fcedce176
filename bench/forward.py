"""The latency figure's peer: a plain consume-and-forward, no Faust, no scoring.

An aiokafka consumer (the worker's Kafka client; assigned every partition, no
group join, the worker's fetch long-poll of ``stream.transport.FETCH_MAX_WAIT_MS``)
forwards each record as soon as it is fetched, key, value and partition unchanged,
with an aiokafka producer configured like the worker's ``BatchPublisher`` (acks all,
linger 0). Measured from the bench producer's send to the forwarded record's
arrival, it is the same path a decision takes (producer → topic → consumer →
producer → topic → watcher) minus everything the worker does in between. The bench
publishes the very payments of the worker's latency run to it, keyed by event id
rather than card id (so the watcher can tell them apart without decoding them).

Run as a child process: ``python -m bench.forward BOOTSTRAP SOURCE DEST PARTITIONS``;
it prints ``forwarder ready`` once it is consuming and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.transport import FETCH_MAX_WAIT_MS

READY = "forwarder ready"


async def forward(bootstrap: str, source: str, dest: str, partitions: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([TopicPartition(source, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        print(READY, flush=True)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            futures = [
                await producer.send(dest, msg.value, key=msg.key, partition=msg.partition)
                for records in batches.values()
                for msg in records
            ]
            if futures:
                await asyncio.gather(*futures)
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("source")
    parser.add_argument("dest")
    parser.add_argument("partitions", type=int)
    args = parser.parse_args()
    asyncio.run(forward(args.bootstrap, args.source, args.dest, args.partitions))


if __name__ == "__main__":
    main()
