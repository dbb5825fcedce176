"""What encryption at rest costs per decision record: the same records written to Redis
and read back with and without AES-256-GCM (``store/at_rest.py``), in pipelines of a
micro-batch, plus the sealing and opening alone.

``python -m bench`` runs it on the records its replay phase wrote (real stored records,
feature vectors included); the peer is the same path without encryption.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Sequence
from typing import Any

from store.at_rest import AtRest
from store.connect import SyncRedis
from store.layout import PREFIX as LAYOUT_PREFIX

BATCH = 500
PREFIX = LAYOUT_PREFIX + "bench:atrest:"


def _round_trip(client: SyncRedis, records: Sequence[bytes], box: AtRest) -> float:
    """Seconds to seal (if on), SET, GET and open every record, a batch per pipeline each way."""
    started = time.perf_counter()
    for at in range(0, len(records), BATCH):
        chunk = records[at : at + BATCH]
        names = [f"{PREFIX}{at + i}" for i in range(len(chunk))]
        pipe = client.pipeline(transaction=False)
        for name, body in zip(names, chunk, strict=True):
            pipe.set(name, box.encrypt(body, name.encode()), ex=600)
        pipe.execute()
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.get(name)
        for name, stored in zip(names, pipe.execute(), strict=True):
            box.decrypt(stored, name.encode())
    return time.perf_counter() - started


def measure(client: SyncRedis, records: Sequence[bytes], repeat: int = 3) -> dict[str, Any]:
    """µs per record for the plain and the sealed path (best of ``repeat``) and the crypto alone."""
    box = AtRest.parse("bench:" + base64.b64encode(os.urandom(32)).decode())
    plain = AtRest.off()
    _round_trip(client, records[:BATCH], box)  # warm: connections, code paths
    plain_s = min(_round_trip(client, records, plain) for _ in range(repeat))
    sealed_s = min(_round_trip(client, records, box) for _ in range(repeat))
    names = [f"{PREFIX}{i}".encode() for i in range(len(records))]
    t0 = time.perf_counter()
    sealed = [box.encrypt(r, n) for r, n in zip(records, names, strict=True)]
    t1 = time.perf_counter()
    for s, n in zip(sealed, names, strict=True):
        box.decrypt(s, n)
    t2 = time.perf_counter()
    for name in names:  # one key at a time: they may sit on several cluster nodes
        client.delete(name.decode())
    n = len(records)
    return {
        "at_rest_records": n,
        "at_rest_record_bytes": sum(map(len, records)) / n,
        "at_rest_sealed_bytes": sum(map(len, sealed)) / n,
        "at_rest_plain_us_per_event": plain_s / n * 1e6,
        "at_rest_sealed_us_per_event": sealed_s / n * 1e6,
        "at_rest_seal_us_per_event": (t1 - t0) / n * 1e6,
        "at_rest_open_us_per_event": (t2 - t1) / n * 1e6,
    }
