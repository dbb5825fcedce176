"""``riskwire evaluate``: how good were the decisions, overall and per day, the way fraud teams measure it.

It joins a transactions file, a labels file and a file of decision records
(from ``riskwire replay`` or read back from ``scores``, so repeated event ids
are expected and the first is kept) and reports AUC ROC, average precision,
precision and recall at the review and block decisions, and Card Precision@k
(how many of the k cards an analyst team can review in a day were really
compromised), overall and per UTC day so that drift is visible. Evaluation is
retrospective: an event is fraud when any ``fraud`` label exists for it,
whatever its ``reported_at`` and whatever other labels say, and unlabelled
events count as legitimate; this differs on purpose from replay, where a label
only takes effect once event time passes its ``reported_at``.

>>> from evaluation import build_dataset, evaluate
>>> txs = [{"event_id": f"e{i}", "occurred_at": "2026-01-01T12:00:00Z", "card_id": f"c{i}"} for i in range(3)]
>>> decisions = [
...     {"event_id": f"e{i}", "probability": p, "risk_score": round(100 * p), "decision": d}
...     for i, (p, d) in enumerate([(0.9, "block"), (0.5, "allow"), (0.2, "allow")])
... ]
>>> result = evaluate(build_dataset(txs, [{"event_id": "e0", "label": "fraud"}], decisions), k=2)
>>> result.overall.auc_roc, result.overall.precision_block, result.days[0].card_precision_at_k
(1.0, 1.0, 0.5)
"""

from .inputs import Dataset, InputStats, build_dataset, load_dataset, read_records
from .metrics import Evaluation, SliceMetrics, card_precision_at_k, evaluate
from .report_html import render_html, write_html
from .report_text import format_table

__all__ = [
    "Dataset",
    "Evaluation",
    "InputStats",
    "SliceMetrics",
    "build_dataset",
    "card_precision_at_k",
    "evaluate",
    "format_table",
    "load_dataset",
    "read_records",
    "render_html",
    "write_html",
]
