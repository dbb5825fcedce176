"""Detection quality on a held-out window, per fraud pattern, for ``make baseline``.

``riskwire evaluate`` measures against the labels feed (what a team would
know). A benchmark on simulated data can do better: the simulator's ground
truth (``simulate --truth`` writes each fraud's pattern) says which payments
were fraud, labelled or not, and which pattern made them. For a window of UTC
days (the held-out week) this prints:

* AUC, average precision and Card Precision@k of the whole window;
* per pattern: its frauds, the AP of ranking them among all legit payments,
  their median probability, and how many were blocked, reviewed or allowed;
* false flags among legit payments, and reviews and blocks per day.

    python -m evaluation.quality --transactions T --decisions D --patterns P \\
        --from 2026-02-01 --to 2026-02-07 --name batch
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score

from .inputs import DECISION_CODES, Dataset, build_dataset, read_records
from .metrics import evaluate

__all__ = ["pattern_table", "read_patterns", "window"]


def read_patterns(path: Path) -> dict[str, str]:
    """``event_id pattern`` per line (``simulate --truth``'s fraud_patterns.txt)."""
    out: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        event_id, _, pattern = line.strip().partition(" ")
        if event_id:
            out[event_id] = pattern or "fraud"
    return out


def window(data: Dataset, first: str | None, last: str | None) -> Dataset:
    """The rows whose UTC day is within [first, last] (either end open when None)."""
    keep = np.ones(len(data), dtype=np.bool_)
    if first is not None:
        keep &= data.days >= np.datetime64(first, "D")
    if last is not None:
        keep &= data.days <= np.datetime64(last, "D")
    rows = np.flatnonzero(keep)
    return replace(
        data,
        event_ids=[data.event_ids[i] for i in rows],
        card_ids=data.card_ids,
        card_codes=data.card_codes[rows],
        days=data.days[rows],
        probability=data.probability[rows],
        risk_score=data.risk_score[rows],
        decision=data.decision[rows],
        fraud=data.fraud[rows],
    )


def _ap(y: npt.NDArray[np.bool_], p: npt.NDArray[np.float64]) -> str:
    return f"{average_precision_score(y, p):.3f}" if 0 < y.sum() < len(y) else "n/a"


def pattern_table(data: Dataset, patterns: dict[str, str], name: str, k: int = 100) -> str:
    """The text report of one variant on one window (``data`` already windowed)."""
    which = np.array([patterns.get(e, "") for e in data.event_ids], dtype=object)
    fraud = which != ""
    legit = ~fraud
    truth = replace(data, fraud=fraud)
    overall = evaluate(truth, k=k).overall
    days = max(1, len(np.unique(data.days)))
    review = data.decision == DECISION_CODES["review"]
    block = data.decision == DECISION_CODES["block"]
    head = (
        f"{name}: {len(data):,} payments, {int(fraud.sum()):,} frauds over {days} days; "
        f"AUC {overall.auc_roc or float('nan'):.3f}, AP {overall.average_precision or float('nan'):.3f}, "
        f"CP@{k} {overall.card_precision_at_k or float('nan'):.3f}"
    )
    lines = [
        head,
        f"  {'pattern':<22}{'frauds':>7}{'AP':>8}{'median p':>10}{'blocked':>9}{'reviewed':>9}{'allowed':>9}",
    ]
    for pattern in sorted(set(which[fraud].tolist())):
        mine = which == pattern
        rows = mine | legit
        lines.append(
            f"  {pattern:<22}{int(mine.sum()):>7}{_ap(mine[rows], data.probability[rows]):>8}"
            f"{float(np.median(data.probability[mine])):>10.3f}{int((mine & block).sum()):>9}"
            f"{int((mine & review).sum()):>9}{int((mine & ~block & ~review).sum()):>9}"
        )
    lines.append(
        f"  {'all frauds':<22}{int(fraud.sum()):>7}{_ap(fraud, data.probability):>8}"
        f"{float(np.median(data.probability[fraud])) if fraud.any() else float('nan'):>10.3f}"
        f"{int((fraud & block).sum()):>9}{int((fraud & review).sum()):>9}"
        f"{int((fraud & ~block & ~review).sum()):>9}"
    )
    lines.append(
        f"  legit payments flagged: {int((legit & block).sum()):,} blocked, "
        f"{int((legit & review).sum()):,} reviewed of {int(legit.sum()):,}; "
        f"per day: {review.sum() / days:.1f} reviews, {block.sum() / days:.1f} blocks"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.quality", description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=Path, required=True)
    parser.add_argument("--decisions", type=Path, required=True)
    parser.add_argument("--patterns", type=Path, required=True, help="simulate --truth's fraud_patterns.txt")
    parser.add_argument("--from", dest="first", default=None, metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="last", default=None, metavar="YYYY-MM-DD")
    parser.add_argument("--name", default="decisions")
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args(argv)
    for path in (args.transactions, args.decisions, args.patterns):
        if not path.is_file():
            print(f"error: no such file: {path}", file=sys.stderr)
            return 2
    data = build_dataset(read_records(args.transactions), [], read_records(args.decisions))
    data = window(data, args.first, args.last)
    if len(data) == 0:
        print("error: no scored payment in the window", file=sys.stderr)
        return 2
    print(pattern_table(data, read_patterns(args.patterns), args.name, k=args.k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
