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
"""

from __future__ import annotations

import numba
import numpy as np

from features.codec import NONE
from features.kernel_states import FORMAT, decode_states, encode_states

__all__ = ["FORMAT", "run_batch"]

DAY = 86_400_000
RES = np.array([60_000, 300_000, 3_600_000, DAY], dtype=np.int64)
KMAX = np.array([10, 12, 24, 30], dtype=np.int64)
#: The five windows: bucket resolution and number of earlier buckets.
WIN_R = np.array([0, 1, 2, 3, 3], dtype=np.int64)
WIN_K = np.array([10, 12, 24, 7, 30], dtype=np.int64)
CAP = 32
WIDTH = 81
_CARD, _MERCHANT = 0, 2


@numba.njit(cache=True)
def _distinct(dday, dhash, start, length, day, k, tmp):  # type: ignore[no-untyped-def]
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
    return min(count, CAP)


@numba.njit(cache=True)
def run_batch(  # type: ignore[no-untyped-def]
    ev_t, ev_units, ev_cents, ev_ent, ev_mh, ev_ch, ev_kh, ev_mode, ev_src, ev_off,
    ent_kind, in_buf, in_off,
    mg_ent, mg_after, mg_eh, mg_occ, mg_rep, mg_kind,
    grace, since, record,
):  # fmt: skip
    """Run a batch; returns ``(raw, out_buf, out_off, changed, late_count, since)``."""
    n = ev_t.shape[0]
    m = ent_kind.shape[0]
    nm = mg_ent.shape[0]
    raw = np.full((n, WIDTH), np.nan)

    # How much each state can grow in this batch: one entry per event or merge.
    cnt_ev = np.zeros(m, dtype=np.int64)
    for i in range(n):
        if ev_mode[i] != 0:
            for k in range(6):
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
    ) = decode_states(in_buf, in_off, cnt_ev, cnt_mg)

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
        for k in range(6):
            e = ev_ent[i, k]
            if e < 0:
                continue
            if compute:
                for w in range(5):
                    r = WIN_R[w]
                    top = t // RES[r]
                    lo = top - WIN_K[w]
                    sn = 0
                    su = 0
                    sq = 0
                    for j in range(bstart[e, r], bstart[e, r] + nb[e, r]):
                        if lo <= bidx[j] <= top:
                            sn += bn[j]
                            su += bu[j]
                            sq += bq[j]
                    raw[i, 10 * k + 2 * w] = sn
                    raw[i, 10 * k + 2 * w + 1] = su
                    if k == _CARD and w == 4:
                        raw[i, 60] = sq
                if hi[e] != NONE and t < hi[e] - grace:
                    late = True
                if first[e] != NONE and first[e] < t:
                    if k == _CARD:
                        raw[i, 62] = first[e]
                    elif k == 3:
                        raw[i, 63] = first[e]
                    elif k == 5:
                        raw[i, 64] = first[e]
                if k == _CARD:
                    prev = NONE
                    for j in range(rstart[e] + nr[e] - 1, rstart[e] - 1, -1):
                        if rt[j] < t:
                            prev = rt[j]
                            break
                    if prev == NONE and before[e] != NONE and before[e] < t:
                        prev = before[e]
                    if prev != NONE:
                        raw[i, 61] = prev
                    for d in range(2):
                        raw[i, 65 + 2 * d] = _distinct(dday, dhash, dstart[e, d], nd[e, d], day, 1, tmp)
                        raw[i, 66 + 2 * d] = _distinct(dday, dhash, dstart[e, d], nd[e, d], day, 7, tmp)
                elif k >= 3:
                    base = 69 + 2 * (k - 3)
                    raw[i, base] = _distinct(dday, dhash, dstart[e, 0], nd[e, 0], day, 1, tmp)
                    raw[i, base + 1] = _distinct(dday, dhash, dstart[e, 0], nd[e, 0], day, 7, tmp)
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
            for r in range(4):
                bound = h // RES[r] - KMAX[r]
                s = bstart[e, r]
                if old_hi != NONE and bound > (old_hi - grace) // RES[r] - KMAX[r]:
                    keep = s
                    for j in range(s, s + nb[e, r]):
                        if bidx[j] >= bound:
                            bidx[keep] = bidx[j]
                            bn[keep] = bn[j]
                            bu[keep] = bu[j]
                            bq[keep] = bq[j]
                            keep += 1
                    nb[e, r] = keep - s
                    if r == 3:
                        day_advanced = True
                idx = t // RES[r]
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
                    if k == _CARD and r == 3:
                        bq[hit] += ev_cents[i] * ev_cents[i]
            dbound = h // DAY - 7
            if old_hi != NONE and dbound > (old_hi - grace) // DAY - 7:
                for d in range(2):
                    s = dstart[e, d]
                    keep = s
                    for j in range(s, s + nd[e, d]):
                        if dday[j] >= dbound:
                            dday[keep] = dday[j]
                            dhash[keep] = dhash[j]
                            keep += 1
                    nd[e, d] = keep - s
            if day >= dbound and (k == _CARD or k >= 3):
                for d in range(2):
                    value = -1
                    if k == _CARD:
                        value = ev_mh[i] if d == 0 else ev_ch[i]
                    elif d == 0:
                        value = ev_kh[i]
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
                    if same_day < CAP and not present:
                        dday[s + nd[e, d]] = day
                        dhash[s + nd[e, d]] = value
                        nd[e, d] += 1
            if k == _CARD:
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
            if day_advanced and k in (_CARD, _MERCHANT):
                cut = (h // DAY - KMAX[3]) * DAY
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
        for k, col in ((_CARD, 75), (_MERCHANT, 77)):
            e = ev_ent[i, k]
            n7 = 0
            n30 = 0
            if e >= 0:
                for j in range(fstart[e], fstart[e] + nf[e]):
                    if fkind[j] == 1 and (day - 30) * DAY <= focc[j] < (day + 1) * DAY and frep[j] <= t:
                        n30 += 1
                        if focc[j] >= (day - 7) * DAY:
                            n7 += 1
            raw[i, col] = n7
            raw[i, col + 1] = n30
        if since != NONE:
            raw[i, 79] = since
        raw[i, 80] = 1.0 if late else 0.0
        if late and record:
            late_count += 1

    out, out_off = encode_states(
        changed, hi, first, before, nb, nd, nr, nf, nw, bstart, dstart, rstart, fstart, wstart,
        bidx, bn, bu, bq, dday, dhash, rt, feh, focc, frep, fkind, wsrc, woff,
    )  # fmt: skip
    return raw, out, out_off, changed, late_count, since
