"""The streaming worker: the Faust app that consumes ``transactions`` and
``labels`` in micro-batches, the batch handler that routes scored events to
``scores`` and ``alerts`` and malformed ones to ``dlq`` with their reasons, the
label handler that feeds the online learner and reports drift, the PSI watch,
the per-partition batch publisher, and topic creation.
"""

from stream.app import create_app
from stream.handler import BatchHandler, BatchStats, Incoming
from stream.label_handler import LabelHandler
from stream.psi_watch import PsiWatch
from stream.publisher import BatchPublisher, OutgoingRecord
from stream.runner import run_worker
from stream.topics import ensure_topics, topic_names

__all__ = [
    "BatchHandler",
    "BatchPublisher",
    "BatchStats",
    "Incoming",
    "LabelHandler",
    "OutgoingRecord",
    "PsiWatch",
    "create_app",
    "ensure_topics",
    "run_worker",
    "topic_names",
]
