"""Zigzag varints over byte buffers, compiled with numba: the wire format of entity states
and stored raw aggregates (docs/redis-keys.md, "Online features").

Small integers take one byte, times are stored as deltas, so a card's state is a few
hundred bytes. Every function works on a ``uint8`` buffer and a position and returns the
new position, so the batch kernel can decode and encode whole batches in one pass.

>>> import numpy as np
>>> buf = np.zeros(32, dtype=np.uint8)
>>> pos = put(buf, 0, -3)
>>> pos = put(buf, pos, 1_772_323_200_000)
>>> pos, get(buf, 0), get(buf, 1)  # -3 takes one byte, a time in ms six
(7, (-3, 1), (1772323200000, 7))
>>> end = put_raw(buf, 0, np.array([1.0, np.nan, 250000.0]))
>>> row, at = get_raw(buf, 0, 3)
>>> row.tolist()[0], bool(np.isnan(row[1])), row.tolist()[2], at == end
(1.0, True, 250000.0, True)
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["NONE", "decode_raw_rows", "encode_raw_rows", "get", "get_raw", "put", "put_raw"]

#: "No value" for times (first seen, previous payment) inside the kernel.
NONE = np.int64(-(2**62))


@numba.njit(cache=True, inline="always")
def put(buf: npt.NDArray[np.uint8], pos: int, v: int | np.int64) -> int:
    """Write ``v`` as a zigzag varint at ``pos``; returns the position after it."""
    z = np.uint64((np.int64(v) << np.int64(1)) ^ (np.int64(v) >> np.int64(63)))
    while z >= np.uint64(0x80):
        buf[pos] = np.uint8((z & np.uint64(0x7F)) | np.uint64(0x80))
        z = z >> np.uint64(7)
        pos += 1
    buf[pos] = np.uint8(z)
    return pos + 1


@numba.njit(cache=True, inline="always")
def get(buf: npt.NDArray[np.uint8], pos: int) -> tuple[np.int64, int]:
    """Read a zigzag varint at ``pos``: ``(value, position after it)``."""
    z = np.uint64(0)
    shift = np.uint64(0)
    while True:
        b = np.uint64(buf[pos])
        pos += 1
        z |= (b & np.uint64(0x7F)) << shift
        if b < np.uint64(0x80):
            break
        shift += np.uint64(7)
    v = np.int64(z >> np.uint64(1)) ^ -np.int64(z & np.uint64(1))
    return v, pos


@numba.njit(cache=True)
def put_raw(buf: npt.NDArray[np.uint8], pos: int, row: npt.NDArray[np.float64]) -> int:
    """A row of raw aggregates (integers or NaN): 0 for NaN, else ``v + 1`` zigzagged."""
    for v in row:
        if v != v:
            pos = put(buf, pos, 0)
        else:
            iv = np.int64(v)
            pos = put(buf, pos, iv + 1 if iv >= 0 else iv)
    return pos


@numba.njit(cache=True)
def get_raw(buf: npt.NDArray[np.uint8], pos: int, width: int) -> tuple[npt.NDArray[np.float64], int]:
    """The inverse of :func:`put_raw`."""
    out = np.empty(width)
    for j in range(width):
        v, pos = get(buf, pos)
        if v == 0:
            out[j] = np.nan
        else:
            out[j] = np.float64(v - 1 if v > 0 else v)
    return out, pos


@numba.njit(cache=True)
def decode_raw_rows(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], width: int
) -> npt.NDArray[np.float64]:
    """Rows stored back to back in ``buf`` (row ``i`` starts at ``offsets[i]``)."""
    out = np.empty((len(offsets), width))
    for i in range(len(offsets)):
        out[i], _ = get_raw(buf, offsets[i], width)
    return out


@numba.njit(cache=True)
def encode_raw_rows(raw: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Every row of ``raw`` encoded back to back, with the rows' start offsets (and the end)."""
    n, width = raw.shape
    buf = np.zeros(n * width * 10 + 1, dtype=np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int64)
    pos = 0
    for i in range(n):
        pos = put_raw(buf, pos, raw[i])
        offsets[i + 1] = pos
    return buf[:pos], offsets
