"""A plain recomputation of every raw aggregate, written from docs/redis-keys.md
independently of the Lua script and of OfflineFeatureEngine: scans over the
deduplicated events and labels, no state, no buckets kept."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.records import Label, Transaction

DAY = 86_400_000
WINDOWS = [(60_000, 10), (300_000, 12), (3_600_000, 24), (DAY, 7), (DAY, 30)]
CAP = 32


def _id(e: Transaction, kind: str) -> str | None:
    return {
        "card": e.card_id,
        "customer": e.customer_id,
        "merchant": e.merchant_id,
        "device": e.device_id,
        "ip": e.ip,
        "email": e.email,
    }[kind]


def _in_window(at: int, t: int, bucket: int, k: int) -> bool:
    return t // bucket - k <= at // bucket <= t // bucket


def _num(x: float | None) -> str:
    return "" if x is None else str(int(x))


def current_label(event_id: str, labels: Sequence[Label]) -> tuple[str, int] | None:
    best: tuple[int, int, str] | None = None
    for lab in labels:
        if lab.event_id != event_id:
            continue
        rep = int(lab.reported_at.timestamp() * 1000)
        key = (rep, lab.label.value == "fraud", lab.label.value)
        if best is None or key[:2] > best[:2]:
            best = (rep, int(key[1]), lab.label.value)
    return None if best is None else (best[2], best[0])


def expected_raw(
    probe: Transaction, recorded: Sequence[Transaction], labels: Sequence[Label], since: int | None
) -> str:
    """The raw string for ``probe`` given the events recorded so far (first copies only)."""
    t = probe.occurred_ms
    fields: list[str] = []
    for kind in ("card", "customer", "merchant", "device", "ip", "email"):
        ident = _id(probe, kind)
        for bucket, k in WINDOWS:
            if ident is None:
                fields += ["", ""]
                continue
            hits = [r for r in recorded if _id(r, kind) == ident and _in_window(r.occurred_ms, t, bucket, k)]
            fields += [str(len(hits)), str(sum(round(r.amount * 10_000) for r in hits))]
    card = [r for r in recorded if r.card_id == probe.card_id]
    month = [r for r in card if _in_window(r.occurred_ms, t, DAY, 30)]
    fields.append(str(sum(round(r.amount * 100) ** 2 for r in month)))
    earlier = [r.occurred_ms for r in card if r.occurred_ms < t]
    fields.append(_num(max(earlier) if earlier else None))
    for kind in ("card", "device", "email"):
        ident = _id(probe, kind)
        times = [r.occurred_ms for r in recorded if ident is not None and _id(r, kind) == ident]
        fields.append(_num(min(times) if times and min(times) < t else None))

    def distinct(kind: str, value: str) -> list[str]:
        ident = _id(probe, kind)
        if ident is None:
            return ["", ""]
        out = []
        for k in (1, 7):
            vals = {
                getattr(r, value)
                for r in recorded
                if _id(r, kind) == ident and _in_window(r.occurred_ms, t, DAY, k) and getattr(r, value)
            }
            out.append(str(min(len(vals), CAP)))
        return out

    fields += distinct("card", "merchant_id") + distinct("card", "merchant_country")
    for kind in ("device", "ip", "email"):
        fields += distinct(kind, "card_id")
    for kind in ("card", "merchant"):
        ident = _id(probe, kind)
        for k in (7, 30):
            n = 0
            for r in recorded:
                if _id(r, kind) != ident or not _in_window(r.occurred_ms, t, DAY, k):
                    continue
                label = current_label(r.event_id, labels)
                n += label is not None and label[0] == "fraud" and label[1] <= t
            fields.append(str(n))
    fields += [_num(since), "0"]
    return " ".join(fields)
