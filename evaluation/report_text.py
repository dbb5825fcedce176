"""The terminal table: one row per UTC day, then the overall row, then the footnotes.

Days come first so drift reads top to bottom; undefined metrics print as ``-``
so a single-class day is never mistaken for a zero.
"""

from __future__ import annotations

from .metrics import Evaluation, SliceMetrics


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def columns(k: int) -> list[str]:
    """Header of the table (shared with the HTML report so both read the same)."""
    return [
        "day", "events", "frauds", "fraud rate", "AUC", "AP",
        "P@review", "R@review", "P@block", "R@block", f"CP@{k}",
    ]  # fmt: skip


def cells(m: SliceMetrics) -> list[str]:
    """One row of the table as text."""
    cp = _num(m.card_precision_at_k) + ("*" if m.short_of_k else "")
    return [
        m.name,
        f"{m.events:,}",
        f"{m.frauds:,}",
        _pct(m.fraud_rate),
        _num(m.auc_roc),
        _num(m.average_precision),
        _num(m.precision_review),
        _num(m.recall_review),
        _num(m.precision_block),
        _num(m.recall_block),
        cp,
    ]


def footnotes(result: Evaluation) -> list[str]:
    """What the columns mean where it is not obvious, and the input oddities."""
    k = result.k
    notes = [
        "review/block: flagged when the decision was review or block / block; AUC, AP, CP@k use probability.",
        f"CP@{k}: share of the day's {k} riskiest cards with a fraud that day; overall = mean of the days.",
    ]
    if result.exclude_detected_cards:
        notes.append("CP@k excludes cards already caught in the top k of an earlier day.")
    if result.overall.short_of_k:
        notes.append(f"* fewer than {k} cards that day; CP@{k} still divides by {k}, as the handbook does.")
    return notes + result.stats.notes()


def format_table(result: Evaluation) -> str:
    """The whole terminal report as one string (no trailing newline).

    >>> from evaluation import build_dataset, evaluate
    >>> data = build_dataset(
    ...     [{"event_id": "e1", "occurred_at": "2026-01-01T09:00:00Z", "card_id": "c1"}],
    ...     [],
    ...     [{"event_id": "e1", "probability": 0.1, "risk_score": 10, "decision": "allow"}],
    ... )
    >>> print(format_table(evaluate(data, k=1)).splitlines()[2])
    2026-01-01       1       0      0.00%      -      -         -         -        -        -  0.000
    """
    header = columns(result.k)
    rows = [cells(d) for d in result.days]
    overall = cells(result.overall)
    widths = [max(len(r[i]) for r in [header, *rows, overall]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])

    rule = "-" * len(line(header))
    out = [line(header), rule, *(line(r) for r in rows), rule, line(overall), ""]
    return "\n".join(out + footnotes(result))
