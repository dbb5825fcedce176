"""The feature state machine, compiled: one call per micro-batch, in the worker.

This is the step that ran inside Redis as a Lua script until the hot-path redesign
(docs/redis-keys.md, "Online features"): for every event of a batch, in order, read the
windows of its entities' states, then record the event in them. Here the states come in
as encoded bytes (``features/codec.py``), are decoded once, updated by every event of the
batch, and the changed ones go out encoded again, so the store around it only moves
bytes. The live store, replay, backfill and training all call this one function, so the
values cannot differ between them.

Inputs per event: time, amount units and cents, the entity indices (``-1`` = absent),
hashes of the merchant, the merchant's country (``-1`` = none) and the card for the
distinct counts, a mode (0 = skip, 1 = new: compute and record, 2 = record only, for an
event stored by an attempt that crashed before its states were written), and its Kafka
position (source id and offset, ``-1`` = none) for the per-entity watermarks that make a
re-recorded event change nothing twice.

Which windows, entities, distinct families and label windows there are, and which raw
column each value goes to, is the windows spec (``features.windows``) and the raw layout
(``features.aggregates``): ``LAYOUT`` derives the kernel's tables from them, and they come
in as an argument (constants read by a compiled function would be frozen into numba's
cache, which only notices changes to this file).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from features import windows as spec
from features.aggregates import AGGREGATE_COUNT, HISTORY_SINCE, LATE, RAW_INDEX
from features.codec import NONE
from features.kernel_states import DAY, FORMAT, decode_states, encode_states

__all__ = ["FORMAT", "LAYOUT", "Layout", "run_batch"]

I64 = npt.NDArray[np.int64]
#: What a distinct family counts → the event column the kernel takes it from.
HASHED = {"merchants": 0, "countries": 1, "cards": 2}


class Layout(NamedTuple):
    """The kernel's tables, all derived from ``features.windows`` and the raw layout.

    ``-1`` marks an absent column (an entity without that value). Per entity kind ``k``
    (``spec.ENTITIES`` order), window ``w`` (``spec.WINDOWS``), distinct list ``d`` (the
    entity's families, in ``spec.DISTINCT`` order), distinct window ``j`` and label window
    ``j``.
    """

    res: I64  # bucket size per resolution (ms)
    keep: I64  # earlier buckets kept per resolution
    win_res: I64  # [w] resolution of the window
    win_buckets: I64  # [w] earlier buckets of the window
    count_col: I64  # [k, w] raw column of the count
    units_col: I64  # [k, w] raw column of the amount sum
    first_col: I64  # [k] raw column of the first-seen time
    dist_src: I64  # [k, d] what the list holds (``HASHED``), -1 = no such list
    dist_col: I64  # [k, d, j] raw column of the distinct count
    dist_days: I64  # [j] days before the event's day
    fraud_col: I64  # [k, j] raw column of the fraud count, -1 = keeps no labels
    label_days: I64  # [j] days before the event's day
    cols: I64  # scalars, see ``_scalars``


def _scalars() -> list[int]:
    """width, cap, moment entity, window, resolution and column, previous entity and
    column, since and late columns, distinct and label days kept, the day resolution."""
    moment = spec.WINDOW[spec.MOMENT_WINDOW]
    return [
        AGGREGATE_COUNT,
        spec.DISTINCT_CAP,
        spec.ENTITIES.index(spec.MOMENT_ENTITY),
        spec.WINDOWS.index(moment),
        moment.resolution,
        RAW_INDEX[f"{spec.MOMENT_ENTITY}_cents2_{spec.MOMENT_WINDOW}"],
        spec.ENTITIES.index(spec.PREVIOUS_ENTITY),
        RAW_INDEX[f"{spec.PREVIOUS_ENTITY}_previous_ms"],
        HISTORY_SINCE,
        LATE,
        max(spec.WINDOW[w].days for w in spec.DISTINCT_WINDOWS),
        max(spec.WINDOW[w].days for w in spec.LABEL_WINDOWS),
        spec.RESOLUTIONS.index(DAY),
    ]


def _dist_cols(families: list[spec.Distinct], d: int) -> list[int]:
    """The raw columns of an entity's ``d``-th distinct list, per distinct window."""
    if d >= len(families):
        return [-1] * len(spec.DISTINCT_WINDOWS)
    return [RAW_INDEX[f"{families[d].name}_{w}"] for w in spec.DISTINCT_WINDOWS]


def _layout() -> Layout:
    def arr(values: object) -> I64:
        return np.array(values, dtype=np.int64)

    ents, wins = spec.ENTITIES, spec.WINDOWS
    families = [[d for d in spec.DISTINCT if d.entity == e] for e in ents]
    lists = max(len(f) for f in families)
    return Layout(
        res=arr(spec.RESOLUTIONS),
        keep=arr(spec.KEEP),
        win_res=arr([w.resolution for w in wins]),
        win_buckets=arr([w.buckets for w in wins]),
        count_col=arr([[RAW_INDEX.get(f"{e}_n_{w.name}", -1) for w in wins] for e in ents]),
        units_col=arr([[RAW_INDEX.get(f"{e}_u_{w.name}", -1) for w in wins] for e in ents]),
        first_col=arr([RAW_INDEX.get(f"{e}_first_ms", -1) for e in ents]),
        dist_src=arr([[HASHED[f[d].what] if d < len(f) else -1 for d in range(lists)] for f in families]),
        dist_col=arr([[_dist_cols(f, d) for d in range(lists)] for f in families]),
        dist_days=arr([spec.WINDOW[w].days for w in spec.DISTINCT_WINDOWS]),
        fraud_col=arr([[RAW_INDEX.get(f"{e}_fraud_{w}", -1) for w in spec.LABEL_WINDOWS] for e in ents]),
        label_days=arr([spec.WINDOW[w].days for w in spec.LABEL_WINDOWS]),
        cols=arr(_scalars()),
    )


LAYOUT = _layout()


@numba.njit(cache=True)
def _distinct(dday, dhash, start, length, day, k, tmp, cap):  # type: ignore[no-untyped-def]
    m = 0
    for j in range(start, start + length):
        if day - k <= dday[j] <= day:
            tmp[m] = dhash[j]
            m += 1
    if m == 0:
        return 0
    s = np.sort(tmp[:m])
    count = 1
    for j in range(1, m):
        if s[j] != s[j - 1]:
            count += 1
    return min(count, cap)


@numba.njit(cache=True)
def run_batch(  # type: ignore[no-untyped-def]
    ev_t, ev_units, ev_cents, ev_ent, ev_mh, ev_ch, ev_kh, ev_mode, ev_src, ev_off,
    ent_kind, in_buf, in_off,
    mg_ent, mg_after, mg_eh, mg_occ, mg_rep, mg_kind,
    grace, since, record, layout,
):  # fmt: skip
    """Run a batch; returns ``(raw, out_buf, out_off, changed, late_count, since)``.

    ``layout`` is ``LAYOUT`` (``Layout``'s fields, in order).
    """
    (res, keep_n, win_res, win_buckets, count_col, units_col, first_col,
     dist_src, dist_col, dist_days, fraud_col, label_days, cols) = layout  # fmt: skip
    width, cap = cols[0], cols[1]
    moment_ent, moment_win, moment_res, moment_col = cols[2], cols[3], cols[4], cols[5]
    prev_ent, prev_col, since_col, late_col = cols[6], cols[7], cols[8], cols[9]
    dist_keep, label_keep, day_res = cols[10], cols[11], cols[12]
    nres = res.shape[0]
    nent = ev_ent.shape[1]
    nwin = win_res.shape[0]
    lists = dist_src.shape[1]
    n = ev_t.shape[0]
    m = ent_kind.shape[0]
    nm = mg_ent.shape[0]
    raw = np.full((n, width), np.nan)

    # How much each state can grow in this batch: one entry per event or merge.
    cnt_ev = np.zeros(m, dtype=np.int64)
    for i in range(n):
        if ev_mode[i] != 0:
            for k in range(nent):
                if ev_ent[i, k] >= 0:
                    cnt_ev[ev_ent[i, k]] += 1
    cnt_mg = np.zeros(m, dtype=np.int64)
    for j in range(nm):
        cnt_mg[mg_ent[j]] += 1

    (
        hi,
        first,
        before,
        nb,
        nd,
        nr,
        nf,
        nw,
        bstart,
        dstart,
        rstart,
        fstart,
        wstart,
        bidx,
        bn,
        bu,
        bq,
        dday,
        dhash,
        rt,
        feh,
        focc,
        frep,
        fkind,
        wsrc,
        woff,
        tmp,
    ) = decode_states(in_buf, in_off, cnt_ev, cnt_mg, res, lists, moment_res)

    changed = np.zeros(m, dtype=np.bool_)
    late_count = 0
    mj = 0
    for i in range(n + 1):
        # Label merges due before event i (pending labels applied after their event).
        while mj < nm and mg_after[mj] < i:
            e = mg_ent[mj]
            hit = -1
            for j in range(fstart[e], fstart[e] + nf[e]):
                if feh[j] == mg_eh[mj]:
                    hit = j
                    break
            if hit < 0:
                hit = fstart[e] + nf[e]
                nf[e] += 1
                feh[hit] = mg_eh[mj]
                focc[hit] = mg_occ[mj]
                frep[hit] = mg_rep[mj]
                fkind[hit] = mg_kind[mj]
                changed[e] = True
            elif mg_rep[mj] > frep[hit] or (mg_rep[mj] == frep[hit] and mg_kind[mj] > fkind[hit]):
                frep[hit] = mg_rep[mj]
                fkind[hit] = mg_kind[mj]
                changed[e] = True
            mj += 1
        if i == n:
            break
        mode = ev_mode[i]
        if mode == 0:
            continue
        t = ev_t[i]
        compute = mode == 1
        if record and since == NONE:  # the first event recorded (a repaired one too)
            since = t
        late = False
        day = t // DAY
        for k in range(nent):
            e = ev_ent[i, k]
            if e < 0:
                continue
            if compute:
                for w in range(nwin):
                    r = win_res[w]
                    top = t // res[r]
                    lo = top - win_buckets[w]
                    sn = 0
                    su = 0
                    sq = 0
                    for j in range(bstart[e, r], bstart[e, r] + nb[e, r]):
                        if lo <= bidx[j] <= top:
                            sn += bn[j]
                            su += bu[j]
                            sq += bq[j]
                    raw[i, count_col[k, w]] = sn
                    raw[i, units_col[k, w]] = su
                    if k == moment_ent and w == moment_win:
                        raw[i, moment_col] = sq
                if hi[e] != NONE and t < hi[e] - grace:
                    late = True
                if first[e] != NONE and first[e] < t and first_col[k] >= 0:
                    raw[i, first_col[k]] = first[e]
                if k == prev_ent:
                    prev = NONE
                    for j in range(rstart[e] + nr[e] - 1, rstart[e] - 1, -1):
                        if rt[j] < t:
                            prev = rt[j]
                            break
                    if prev == NONE and before[e] != NONE and before[e] < t:
                        prev = before[e]
                    if prev != NONE:
                        raw[i, prev_col] = prev
                for d in range(lists):
                    if dist_src[k, d] < 0:
                        continue
                    for j in range(dist_days.shape[0]):
                        raw[i, dist_col[k, d, j]] = _distinct(
                            dday, dhash, dstart[e, d], nd[e, d], day, dist_days[j], tmp, cap
                        )
            if not record:
                continue
            # The watermark: this entity already holds every event of the source up to it.
            wj = -1
            if ev_src[i] >= 0:
                for j in range(wstart[e], wstart[e] + nw[e]):
                    if wsrc[j] == ev_src[i]:
                        wj = j
                        break
                if wj >= 0 and woff[wj] >= ev_off[i]:
                    continue
                if wj < 0:
                    wj = wstart[e] + nw[e]
                    nw[e] += 1
                    wsrc[wj] = ev_src[i]
                woff[wj] = ev_off[i]
            changed[e] = True
            old_hi = hi[e]
            new_hi = t if old_hi == NONE or old_hi <= t else old_hi
            hi[e] = new_hi
            if first[e] == NONE or t < first[e]:
                first[e] = t
            h = new_hi - grace
            day_advanced = False
            for r in range(nres):
                bound = h // res[r] - keep_n[r]
                s = bstart[e, r]
                if old_hi != NONE and bound > (old_hi - grace) // res[r] - keep_n[r]:
                    keep = s
                    for j in range(s, s + nb[e, r]):
                        if bidx[j] >= bound:
                            bidx[keep] = bidx[j]
                            bn[keep] = bn[j]
                            bu[keep] = bu[j]
                            bq[keep] = bq[j]
                            keep += 1
                    nb[e, r] = keep - s
                    if r == day_res:
                        day_advanced = True
                idx = t // res[r]
                if idx >= bound:
                    hit = -1
                    for j in range(s, s + nb[e, r]):
                        if bidx[j] == idx:
                            hit = j
                            break
                    if hit < 0:
                        hit = s + nb[e, r]
                        nb[e, r] += 1
                        bidx[hit] = idx
                        bn[hit] = 0
                        bu[hit] = 0
                        bq[hit] = 0
                    bn[hit] += 1
                    bu[hit] += ev_units[i]
                    if k == moment_ent and r == moment_res:
                        bq[hit] += ev_cents[i] * ev_cents[i]
            dbound = h // DAY - dist_keep
            if old_hi != NONE and dbound > (old_hi - grace) // DAY - dist_keep:
                for d in range(lists):
                    s = dstart[e, d]
                    keep = s
                    for j in range(s, s + nd[e, d]):
                        if dday[j] >= dbound:
                            dday[keep] = dday[j]
                            dhash[keep] = dhash[j]
                            keep += 1
                    nd[e, d] = keep - s
            if day >= dbound:
                for d in range(lists):
                    src = dist_src[k, d]
                    if src < 0:
                        continue
                    value = ev_mh[i] if src == 0 else ev_ch[i] if src == 1 else ev_kh[i]
                    if value < 0:
                        continue
                    s = dstart[e, d]
                    same_day = 0
                    present = False
                    for j in range(s, s + nd[e, d]):
                        if dday[j] == day:
                            same_day += 1
                            if dhash[j] == value:
                                present = True
                    if same_day < cap and not present:
                        dday[s + nd[e, d]] = day
                        dhash[s + nd[e, d]] = value
                        nd[e, d] += 1
            if k == prev_ent:
                s = rstart[e]
                if t >= h:
                    at = s + nr[e]
                    dup = False
                    for j in range(s, s + nr[e]):
                        if rt[j] == t:
                            dup = True
                            break
                        if rt[j] > t:
                            at = j
                            break
                    if not dup:
                        for j in range(s + nr[e], at, -1):
                            rt[j] = rt[j - 1]
                        rt[at] = t
                        nr[e] += 1
                elif before[e] == NONE or t > before[e]:
                    before[e] = t
                drop = 0
                while drop < nr[e] and rt[s + drop] < h:
                    if before[e] == NONE or rt[s + drop] > before[e]:
                        before[e] = rt[s + drop]
                    drop += 1
                if drop:
                    for j in range(s, s + nr[e] - drop):
                        rt[j] = rt[j + drop]
                    nr[e] -= drop
            if day_advanced and fraud_col[k, 0] >= 0:
                cut = (h // DAY - label_keep) * DAY
                s = fstart[e]
                keep = s
                for j in range(s, s + nf[e]):
                    if focc[j] >= cut:
                        feh[keep] = feh[j]
                        focc[keep] = focc[j]
                        frep[keep] = frep[j]
                        fkind[keep] = fkind[j]
                        keep += 1
                nf[e] = keep - s
        if not compute:
            continue
        for k in range(nent):
            if fraud_col[k, 0] < 0:
                continue
            e = ev_ent[i, k]
            for w in range(label_days.shape[0]):
                frauds = 0
                if e >= 0:
                    lo = (day - label_days[w]) * DAY
                    for j in range(fstart[e], fstart[e] + nf[e]):
                        if fkind[j] == 1 and lo <= focc[j] < (day + 1) * DAY and frep[j] <= t:
                            frauds += 1
                raw[i, fraud_col[k, w]] = frauds
        if since != NONE:
            raw[i, since_col] = since
        raw[i, late_col] = 1.0 if late else 0.0
        if late and record:
            late_count += 1

    out, out_off = encode_states(
        changed, hi, first, before, nb, nd, nr, nf, nw, bstart, dstart, rstart, fstart, wstart,
        bidx, bn, bu, bq, dday, dhash, rt, feh, focc, frep, fkind, wsrc, woff, res, moment_res,
    )  # fmt: skip
    return raw, out, out_off, changed, late_count, since
