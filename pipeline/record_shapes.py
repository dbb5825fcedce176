"""The decision record's three shapes: stored, on the topics, served by the API.

*Stored* (the bytes written once with ``SET NX`` in Redis, and what ``riskwire
replay`` writes): every field of the record, then, as its **last** key, a
compact ``feature_vector`` block::

    "feature_vector": {"catalogue": "<12 hex>", "values": [93 numbers or null, catalogue order],
                       "incomplete": "<hex bitmask, bit j = feature j's window is incomplete>",
                       "currency": "EUR", "reason_counts": [3, 2]}

``currency`` and ``reason_counts`` (raising, lowering) are what reason texts need,
so an explanation computed later is exactly the one the worker would have
written. An allowed payment's record has ``"reasons": []`` and
``"explained": false``: its TreeSHAP reasons are computed on demand by the API.

*On the topics*: the stored bytes cut before ``feature_vector`` (one ``rfind``,
no parsing), so a redelivery publishes exactly what the first delivery did;
``RISKWIRE_SCORES_INCLUDE_FEATURES=true`` publishes the stored bytes whole.

*API*: ``feature_vector`` expanded back to ``features: {name: {value, complete}}``
and, for records stored unexplained, the reasons filled in (``explained: true``);
see ``api.explanations``. Records stored before this shape (a ``features`` dict,
no ``explained``) are read as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from features.catalogue import FEATURE_NAMES

VECTOR_KEY = "feature_vector"
_MARK = b',"' + VECTOR_KEY.encode() + b'":'


def catalogue_id(names: Sequence[str] = FEATURE_NAMES) -> str:
    """A short digest of the feature names in order: which catalogue a vector follows."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]


CATALOGUE_ID = catalogue_id()


def vector_blocks(
    values: npt.NDArray[np.float64],
    complete: npt.NDArray[np.bool_],
    currencies: Sequence[str],
    reason_counts: tuple[int, int],
) -> list[orjson.Fragment]:
    """The ``feature_vector`` block of every row of a batch, serialised (one orjson call
    for the whole value matrix; NaN becomes null, floats round-trip exactly)."""
    n = len(values)
    if n == 0:
        return []
    # "[[...],[...]]": the rows hold numbers and nulls only, so "],[" separates them.
    matrix = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    rows = matrix[2:-2].split(b"],[")
    masks = np.packbits(~complete, axis=1, bitorder="little")
    head = b'{"catalogue":"' + CATALOGUE_ID.encode() + b'","values":['
    counts = orjson.dumps(list(reason_counts))
    out = []
    for row, mask, currency in zip(rows, masks, currencies, strict=True):
        out.append(
            orjson.Fragment(
                head
                + row
                + b'],"incomplete":"'
                + mask.tobytes().hex().encode()
                + b'","currency":'
                + orjson.dumps(currency)
                + b',"reason_counts":'
                + counts
                + b"}"
            )
        )
    return out


def topic_body(stored: bytes, include_features: bool = False) -> bytes:
    """The record published on ``scores``/``alerts`` for the stored bytes ``stored``."""
    if include_features:
        return stored
    cut = stored.rfind(_MARK)
    if cut >= 0:
        return stored[:cut] + b"}"
    if b'"features":' in stored:  # stored before the compact shape
        record = orjson.loads(stored)
        record.pop("features", None)
        return orjson.dumps(record)
    return stored


def _unpack(mask_hex: str, n: int) -> list[bool]:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(mask_hex), dtype=np.uint8), bitorder="little")
    return [not b for b in bits[:n].tolist()]


def vector_names(record: Mapping[str, Any], names: Sequence[str] | None = None) -> Sequence[str] | None:
    """The feature names the record's vector follows: the catalogue's, or ``names`` (e.g.
    the scoring model's manifest) when the catalogue changed since; None if unknown."""
    block = record.get(VECTOR_KEY)
    if not isinstance(block, Mapping):
        return None
    if block.get("catalogue") == CATALOGUE_ID:
        return FEATURE_NAMES
    if names is not None and catalogue_id(names) == block.get("catalogue"):
        return names
    return None


def expand_features(
    record: Mapping[str, Any], names: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The record's features in the API's shape ``{name: {"value", "complete"}}``."""
    block = record.get(VECTOR_KEY)
    if not isinstance(block, Mapping):
        old = record.get("features")
        return dict(old) if isinstance(old, Mapping) else {}
    order = vector_names(record, names)
    if order is None:
        return {}
    values = block["values"]
    complete = _unpack(block.get("incomplete", ""), len(order))
    complete += [True] * (len(order) - len(complete))
    return {name: {"value": v, "complete": c} for name, v, c in zip(order, values, complete, strict=True)}


def feature_row(record: Mapping[str, Any], names: Sequence[str] = FEATURE_NAMES) -> npt.NDArray[np.float64]:
    """The row (in ``names`` order, NaN = unknown) the record's decision was made on.

    A feature the record lacks (it predates a catalogue change) is unknown.
    """
    block = record.get(VECTOR_KEY)
    if isinstance(block, Mapping) and vector_names(record) is FEATURE_NAMES and names == FEATURE_NAMES:
        return np.array([_number(v) for v in block["values"]], dtype=np.float64)
    stored = expand_features(record)
    return np.array([_number((stored.get(name) or {}).get("value")) for name in names], dtype=np.float64)


def explain_context(record: Mapping[str, Any], default_counts: tuple[int, int]) -> tuple[str, int, int]:
    """(currency, raising, lowering) for the record's reason texts."""
    block = record.get(VECTOR_KEY)
    block = block if isinstance(block, Mapping) else {}
    raising, lowering = block.get("reason_counts") or default_counts
    return str(block.get("currency") or ""), int(raising), int(lowering)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan
