"""Entity states in and out of the feature kernel's working arrays (numba).

``decode_states`` turns the batch's encoded states (docs/redis-keys.md, "Entity state")
into flat arrays with room for what the batch can add; ``encode_states`` writes the changed
ones back. Split from ``features/kernel.py``, which updates the arrays in between.

The bucket sizes (``res``), the number of distinct lists per entity and the resolution
whose buckets also keep the amounts' squares come in as arguments, from the windows spec
(``features.windows``, via ``features.kernel.LAYOUT``): constants read by a compiled
function would be frozen into numba's cache, which only notices changes to this file.
"""

from __future__ import annotations

import numba
import numpy as np

from features.codec import NONE, get, put
from features.windows import DAY_MS

__all__ = ["FORMAT", "decode_states", "encode_states"]

FORMAT = 1
DAY = DAY_MS


@numba.njit(cache=True)
def decode_states(in_buf, in_off, cnt_ev, cnt_mg, res, lists, moment_res):  # type: ignore[no-untyped-def]
    """The working arrays: scalars, per-entity list lengths and starts, the flat lists."""
    m = in_off.shape[0] - 1
    nres = res.shape[0]
    # Headers first, to size the working arrays.
    hi = np.full(m, NONE)
    first = np.full(m, NONE)
    before = np.full(m, NONE)
    nb = np.zeros((m, nres), dtype=np.int64)
    nd = np.zeros((m, lists), dtype=np.int64)
    nr = np.zeros(m, dtype=np.int64)
    nf = np.zeros(m, dtype=np.int64)
    nw = np.zeros(m, dtype=np.int64)
    body = np.zeros(m, dtype=np.int64)
    for e in range(m):
        pos = in_off[e]
        if pos == in_off[e + 1]:
            continue
        fmt, pos = get(in_buf, pos)
        if fmt != FORMAT:
            raise ValueError("unknown entity state format")
        flags, pos = get(in_buf, pos)
        if flags & 4:
            hi[e], pos = get(in_buf, pos)
        base = hi[e] if flags & 4 else 0
        if flags & 1:
            v, pos = get(in_buf, pos)
            first[e] = base - v
        if flags & 2:
            v, pos = get(in_buf, pos)
            before[e] = base - v
        for r in range(nres):
            nb[e, r], pos = get(in_buf, pos)
        for d in range(lists):
            nd[e, d], pos = get(in_buf, pos)
        nr[e], pos = get(in_buf, pos)
        nf[e], pos = get(in_buf, pos)
        nw[e], pos = get(in_buf, pos)
        body[e] = pos

    bstart = np.zeros((m, nres), dtype=np.int64)
    dstart = np.zeros((m, lists), dtype=np.int64)
    rstart = np.zeros(m, dtype=np.int64)
    fstart = np.zeros(m, dtype=np.int64)
    wstart = np.zeros(m, dtype=np.int64)
    tb = td = tr = tf = tw = 0
    for e in range(m):
        for r in range(nres):
            bstart[e, r] = tb
            tb += nb[e, r] + cnt_ev[e]
        for d in range(lists):
            dstart[e, d] = td
            td += nd[e, d] + cnt_ev[e]
        rstart[e] = tr
        tr += nr[e] + cnt_ev[e]
        fstart[e] = tf
        tf += nf[e] + cnt_mg[e]
        wstart[e] = tw
        tw += nw[e] + cnt_ev[e]
    bidx = np.zeros(tb, dtype=np.int64)
    bn = np.zeros(tb, dtype=np.int64)
    bu = np.zeros(tb, dtype=np.int64)
    bq = np.zeros(tb, dtype=np.int64)
    dday = np.zeros(td, dtype=np.int64)
    dhash = np.zeros(td, dtype=np.int64)
    rt = np.zeros(tr, dtype=np.int64)
    feh = np.zeros(tf, dtype=np.int64)
    focc = np.zeros(tf, dtype=np.int64)
    frep = np.zeros(tf, dtype=np.int64)
    fkind = np.zeros(tf, dtype=np.int64)
    wsrc = np.zeros(tw, dtype=np.int64)
    woff = np.zeros(tw, dtype=np.int64)
    tmp = np.zeros(max(td, 1), dtype=np.int64)

    # Bodies.
    for e in range(m):
        if in_off[e] == in_off[e + 1]:
            continue
        pos = body[e]
        base = hi[e] if hi[e] != NONE else 0
        for r in range(nres):
            top = base // res[r]
            for j in range(bstart[e, r], bstart[e, r] + nb[e, r]):
                v, pos = get(in_buf, pos)
                bidx[j] = top - v
                bn[j], pos = get(in_buf, pos)
                bu[j], pos = get(in_buf, pos)
                if r == moment_res:
                    bq[j], pos = get(in_buf, pos)
        for d in range(lists):
            for j in range(dstart[e, d], dstart[e, d] + nd[e, d]):
                v, pos = get(in_buf, pos)
                dday[j] = base // DAY - v
                dhash[j], pos = get(in_buf, pos)
        for j in range(rstart[e], rstart[e] + nr[e]):
            v, pos = get(in_buf, pos)
            rt[j] = base - v
        for j in range(fstart[e], fstart[e] + nf[e]):
            feh[j], pos = get(in_buf, pos)
            v, pos = get(in_buf, pos)
            focc[j] = base - v
            v, pos = get(in_buf, pos)
            frep[j] = focc[j] + v
            fkind[j], pos = get(in_buf, pos)
        for j in range(wstart[e], wstart[e] + nw[e]):
            wsrc[j], pos = get(in_buf, pos)
            woff[j], pos = get(in_buf, pos)
        if pos != in_off[e + 1]:
            raise ValueError("corrupt entity state")

    return (
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
    )


@numba.njit(cache=True)
def encode_states(  # type: ignore[no-untyped-def]
    changed, hi, first, before, nb, nd, nr, nf, nw, bstart, dstart, rstart, fstart, wstart,
    bidx, bn, bu, bq, dday, dhash, rt, feh, focc, frep, fkind, wsrc, woff, res, moment_res,
):  # fmt: skip
    """The changed states, encoded back to back, with each one's end offset."""
    m = changed.shape[0]
    nres = nb.shape[1]
    lists = nd.shape[1]
    # Encode the changed states.
    size = 0
    for e in range(m):
        if changed[e]:
            words = 10 + nres + lists + nr[e] + 4 * nf[e] + 2 * nw[e]
            for r in range(nres):
                words += 4 * nb[e, r]
            for d in range(lists):
                words += 2 * nd[e, d]
            size += 10 * words
    out = np.zeros(size, dtype=np.uint8)
    out_off = np.zeros(m + 1, dtype=np.int64)
    pos = 0
    for e in range(m):
        if changed[e]:
            bits = (1 if first[e] != NONE else 0) | (2 if before[e] != NONE else 0)
            bits |= 4 if hi[e] != NONE else 0
            base = hi[e] if hi[e] != NONE else np.int64(0)
            pos = put(out, pos, FORMAT)
            pos = put(out, pos, bits)
            if hi[e] != NONE:
                pos = put(out, pos, hi[e])
            if first[e] != NONE:
                pos = put(out, pos, base - first[e])
            if before[e] != NONE:
                pos = put(out, pos, base - before[e])
            for r in range(nres):
                pos = put(out, pos, nb[e, r])
            for d in range(lists):
                pos = put(out, pos, nd[e, d])
            pos = put(out, pos, nr[e])
            pos = put(out, pos, nf[e])
            pos = put(out, pos, nw[e])
            for r in range(nres):
                top = base // res[r]
                for j in range(bstart[e, r], bstart[e, r] + nb[e, r]):
                    pos = put(out, pos, top - bidx[j])
                    pos = put(out, pos, bn[j])
                    pos = put(out, pos, bu[j])
                    if r == moment_res:
                        pos = put(out, pos, bq[j])
            for d in range(lists):
                for j in range(dstart[e, d], dstart[e, d] + nd[e, d]):
                    pos = put(out, pos, base // DAY - dday[j])
                    pos = put(out, pos, dhash[j])
            for j in range(rstart[e], rstart[e] + nr[e]):
                pos = put(out, pos, base - rt[j])
            for j in range(fstart[e], fstart[e] + nf[e]):
                pos = put(out, pos, feh[j])
                pos = put(out, pos, base - focc[j])
                pos = put(out, pos, frep[j] - focc[j])
                pos = put(out, pos, fkind[j])
            for j in range(wstart[e], wstart[e] + nw[e]):
                pos = put(out, pos, wsrc[j])
                pos = put(out, pos, woff[j])
        out_off[e + 1] = pos
    return out[:pos], out_off
