"""Decision records as the API serves them, with explanations computed on demand.

The worker explains only alerts on the hot path; an allowed payment is stored with
``"reasons": []``, ``"explained": false``, its feature vector and the version of the
batch model that scored it. Here the same TreeSHAP call on the same stored row, with
that version's booster, gives exactly the reasons the worker would have written
(``explain.decision_reasons``, the online model's line from the record's ``model``
block). Boosters are kept loaded by version in a small LRU (``RISKWIRE_API_MODEL_CACHE_SIZE``).

A version that is no longer in the registry (or fails verification) cannot explain:
its records are served with ``explained: false`` and the explanation route answers 404.
The registry never deletes versions itself (``models.registry``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from explain.decision_reasons import decision_reasons
from features.catalogue import FEATURE_NAMES
from models.batch_model import BatchModel
from models.errors import ModelError
from models.loading import ModelRegistry
from pipeline.record_shapes import VECTOR_KEY, expand_features, explain_context, feature_row

log = logging.getLogger(__name__)
_VECTOR_FIELD = b'"' + VECTOR_KEY.encode() + b'":'


class ModelCache:
    """Verified boosters by version, the least recently used dropped beyond ``size``."""

    def __init__(self, registry: ModelRegistry, size: int = 4) -> None:
        self.registry = registry
        self.size = size
        self._models: OrderedDict[str, BatchModel] = OrderedDict()
        self._missing: dict[str, str] = {}

    def put(self, model: BatchModel) -> None:
        self._models[model.version] = model
        self._models.move_to_end(model.version)
        while len(self._models) > self.size:
            self._models.popitem(last=False)

    def get(self, version: str) -> BatchModel:
        """The booster of ``version``; raises ``ModelError`` when it cannot be loaded."""
        model = self._models.get(version)
        if model is not None:
            self._models.move_to_end(version)
            return model
        model = BatchModel(self.registry.load(version))
        self.put(model)
        return model

    def find(self, version: str) -> BatchModel | None:
        """``get``, or None (logged) when the version cannot be loaded."""
        try:
            return self.get(version)
        except ModelError as exc:
            log.warning("cannot explain decisions of model %s: %s", version, exc)
            return None


class Explainer:
    """Stored records → API records (features expanded, reasons filled in) and full explanations."""

    def __init__(self, models: ModelCache, reason_counts: tuple[int, int] = (3, 2)) -> None:
        self.models = models
        self.reason_counts = reason_counts

    def present(self, bodies: Sequence[bytes]) -> list[dict[str, Any]]:
        """The API shape of stored records (any mix of versions: one SHAP call per version)."""
        records: list[dict[str, Any]] = [orjson.loads(b) for b in bodies]
        pending: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            if record.get("explained") is False and VECTOR_KEY in record:
                pending.setdefault(record["model"]["batch_version"], []).append(i)
        for version, rows in pending.items():
            model = self.models.find(version)
            if model is not None:
                self._fill(model, [records[i] for i in rows])
        for record in records:
            if VECTOR_KEY in record:
                record["features"] = expand_features(record)
                del record[VECTOR_KEY]
        return records

    def present_json(self, bodies: Sequence[bytes]) -> list[bytes]:
        """``present`` as JSON; a record stored before the compact shape is served byte for byte."""
        out = list(bodies)
        compact = [i for i, b in enumerate(bodies) if _VECTOR_FIELD in b]
        for i, record in zip(compact, self.present([bodies[i] for i in compact]), strict=True):
            out[i] = orjson.dumps(record)
        return out

    def _fill(self, model: BatchModel, records: list[dict[str, Any]]) -> None:
        x = np.vstack([feature_row(r) for r in records])
        contributions, _base = model.contributions(x)
        for k, record in enumerate(records):
            currency, up, down = explain_context(record, self.reason_counts)
            m = record["model"]
            record["reasons"] = decision_reasons(
                x[k],
                contributions[k],
                currency,
                up,
                down,
                p_batch=m["batch_probability"],
                p_online=m.get("online_probability"),
                p_blend=record["probability"],
                weight=m.get("online_weight") or 0.0,
            )
            record["explained"] = True

    def explanation(self, body: bytes) -> dict[str, Any] | None:
        """Every feature's TreeSHAP contribution, the base value and the margin of the
        version that scored the record; None when that version cannot be loaded."""
        record = orjson.loads(body)
        version = record["model"]["batch_version"]
        model = self.models.find(version)
        if model is None:
            return None
        x = feature_row(record)[None, :]
        contributions, base = model.contributions(x)
        return {
            "event_id": record["event_id"],
            "model_version": version,
            "base_value": float(base[0]),
            "margin": float(model.margin(x)[0]),
            "contributions": dict(zip(FEATURE_NAMES, contributions[0].tolist(), strict=True)),
        }
