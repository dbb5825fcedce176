"""The streaming worker: the Faust app that consumes ``transactions`` in
micro-batches, the batch handler that routes scored events to ``scores`` and
``alerts`` and malformed ones to ``dlq`` with their reasons, the per-partition
batch publisher, and topic creation.
"""

from stream.app import create_app, run_worker
from stream.handler import BatchHandler, BatchStats, Incoming
from stream.publisher import BatchPublisher, OutgoingRecord
from stream.topics import ensure_topics, topic_names

__all__ = [
    "BatchHandler",
    "BatchPublisher",
    "BatchStats",
    "Incoming",
    "OutgoingRecord",
    "create_app",
    "ensure_topics",
    "run_worker",
    "topic_names",
]
