"""Applying a batch of labels to the feature store (docs/redis-keys.md, "Labels").

The label entries go into the card and merchant states first, then the event's hash takes
the label (``label.lua``), so a crash in between is repaired by the same label coming again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from contracts.identity import event_ref
from contracts.records import Label
from features.batch import BatchPlan, Merge, plan_batch, run_plan
from features.labels import LabelState, merges_for, newer, newest_label
from store.feature_writes import Config, Steps, as_text, read_states, write_states

__all__ = ["label_steps"]


def label_steps(cfg: Config, labels: Sequence[Label]) -> Steps:
    """Apply a batch of labels; returns how many changed anything (docs/redis-keys.md, "Labels").

    The entries go into the card and merchant states first, then the event's hash takes the
    label (``label.lua``): a crash in between leaves the hash's label older, so the same
    label redelivered is merged again (merging is idempotent) and then recorded.
    """
    if not labels:
        return 0
    keys = cfg.keys
    refs = [event_ref(lab.account_id, lab.event_id) for lab in labels]
    ids = list(dict.fromkeys(refs))
    replies = yield [("HMGET", keys.event(e), "a", "l", "c", "m", "t", "p") for e in ids]
    known = {e: r for e, r in zip(ids, replies, strict=True) if r[0] is not None}
    stored = {e: newest_label(r[1], r[5]) for e, r in known.items()}
    current = {e: (None if t is None else LabelState.parse(t)) for e, t in stored.items()}
    for lab, ref in zip(labels, refs, strict=True):
        state = LabelState.of(lab)
        if ref in current and newer(state, current[ref]):
            current[ref] = state
    plan = plan_batch([])
    merges: list[Merge] = []
    for e, r in known.items():
        now, before = current[e], stored[e]
        if now is not None and (before is None or now != LabelState.parse(before)):
            merges += merges_for(plan, -1, e, as_text(r[2]), as_text(r[3]), int(r[4]), now)
    yield from _merge_states(cfg, plan, merges)
    replies = yield [
        ("EVALSHA", cfg.label_sha, 1, keys.event(ref), lab.label.value,
         int(lab.reported_at.timestamp() * 1000), cfg.dedupe_ttl_ms)
        for lab, ref in zip(labels, refs, strict=True)
    ]  # fmt: skip
    changed = 0
    late: list[Merge] = []
    plan = plan_batch([])
    for lab, ref, reply in zip(labels, refs, replies, strict=True):
        status = int(reply[0])
        changed += status != 0
        if status == 1 and ref not in known:  # recorded since the read above
            _, card, merchant, at = reply
            state = LabelState.of(lab)
            late += merges_for(plan, -1, ref, as_text(card), as_text(merchant), int(at), state)
    yield from _merge_states(cfg, plan, late)
    return changed


def _merge_states(cfg: Config, plan: BatchPlan, merges: list[Merge]) -> Steps:
    """Merge label entries into the states they name (read, merge, compare-and-set)."""
    if not merges:
        return None
    replies = yield [("GET", cfg.keys.entity(k, i)) for k, i in plan.entities]
    bodies, versions = read_states(replies)
    none = np.zeros(0, dtype=np.int8)

    def run(sub: BatchPlan, states: Sequence[bytes | None]) -> list[bytes | None]:
        chosen = [replace(g, entity=sub.index[plan.entities[g.entity]])
                  for g in merges if plan.entities[g.entity] in sub.index]  # fmt: skip
        return run_plan(sub, states, mode=none, grace_ms=cfg.grace_ms, since=None, merges=chosen).states

    yield from write_states(cfg, plan, versions, run(plan, bodies), run)
    return None
