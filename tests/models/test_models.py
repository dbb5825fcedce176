"""The model registry and the batch model: manifests, integrity checks, versions, reproducibility."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from features.catalogue import FEATURE_NAMES
from models.batch_model import BatchModel
from models.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from models.loading import ModelRegistry
from models.registry import MANIFEST_FILE, MODEL_FILE
from models.training import TrainingSet, build_training_set, train


@pytest.fixture(scope="module")
def training_set(small_history) -> TrainingSet:
    txs, labels, _ = small_history
    return build_training_set(txs, labels)


@pytest.fixture()
def registry_copy(model_dir: Path, tmp_path: Path) -> ModelRegistry:
    """A private copy of the session's registry, free to tamper with."""
    root = tmp_path / "models"
    shutil.copytree(model_dir, root)
    return ModelRegistry(root)


def _folder(registry: ModelRegistry) -> Path:
    return registry.root / "versions" / registry.current()


def test_trained_model_loads_with_its_model_card(model_dir, small_history):
    txs, labels, _ = small_history
    registry = ModelRegistry(model_dir)
    version = registry.current()
    assert registry.versions() == [version]
    artefact = registry.load()
    model = BatchModel(artefact)
    card = artefact.manifest

    assert model.version == version == card["version"]
    assert card["feature_names"] == list(FEATURE_NAMES)
    assert card["files"] == {MODEL_FILE: hashlib.sha256(artefact.model_bytes).hexdigest()}
    assert version.endswith(hashlib.sha256(artefact.model_bytes).hexdigest()[:8])

    # Data range: first and last event of the history, as instants.
    first = min(t.occurred_at for t in txs)
    last = max(t.occurred_at for t in txs)
    assert datetime.fromisoformat(card["data_range"]["from"]) == first
    assert datetime.fromisoformat(card["data_range"]["to"]) == last
    assert first < datetime.fromisoformat(card["validation_from"]) < last

    metrics = card["metrics"]
    frauds = {lab.event_id for lab in labels if lab.label == "fraud"} & {t.event_id for t in txs}
    assert metrics["train_rows"] + metrics["validation_rows"] == len({t.event_id for t in txs})
    assert metrics["train_frauds"] + metrics["validation_frauds"] == len(frauds)
    # The session's model validates on 30% of the history (tests/conftest.py, model_dir).
    assert metrics["validation_rows"] == pytest.approx(0.3 * len(txs), abs=1)
    assert 0.5 < metrics["validation_auc_roc"] <= 1.0
    assert 0.0 < metrics["validation_average_precision"] <= 1.0
    assert 1 <= metrics["trees"] == model.booster.num_boosted_rounds()

    x = np.full((3, len(FEATURE_NAMES)), np.nan)
    x[:, 0] = [5.0, 50.0, 5000.0]
    p = model.predict_proba(x)
    assert p.shape == (3,) and np.all((p > 0) & (p < 1))


def test_tampered_model_file_is_refused_before_parsing(registry_copy):
    path = _folder(registry_copy) / MODEL_FILE
    data = bytearray(path.read_bytes())
    # One digit of the first split threshold: still a model XGBoost would happily load.
    i = data.index(b'"split_conditions":[') + len(b'"split_conditions":[')
    assert chr(data[i]).isdigit()
    data[i] = ord(str((int(chr(data[i])) + 1) % 10))
    xgb.Booster().load_model(bytearray(data))
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        registry_copy.load()

    # One byte that breaks the JSON: refused as an integrity error, never an XGBoost parse error.
    data[0:1] = b"X"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        registry_copy.load()


def test_unlisted_file_is_refused(registry_copy):
    (_folder(registry_copy) / "extra.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(ModelIntegrityError, match=r"extra\.pkl"):
        registry_copy.load()


def test_listed_model_file_missing_is_a_model_error(registry_copy):
    """The ModelError hierarchy promises callers one exception family for bad artefacts."""
    (_folder(registry_copy) / MODEL_FILE).unlink()
    with pytest.raises(ModelError):
        registry_copy.load()


def test_manifest_without_the_model_file_is_refused(registry_copy):
    path = _folder(registry_copy) / MANIFEST_FILE
    card = json.loads(path.read_text())
    card["files"] = {}
    path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError):
        registry_copy.load()


@pytest.mark.parametrize(
    "names",
    [
        list(reversed(FEATURE_NAMES)),  # same features, other order
        list(FEATURE_NAMES[:-1]),
        [*FEATURE_NAMES, "new_feature"],
        None,
    ],
    ids=["reordered", "one-missing", "one-extra", "absent"],
)
def test_batch_model_refuses_other_feature_names(registry_copy, names):
    path = _folder(registry_copy) / MANIFEST_FILE
    card = json.loads(path.read_text())
    if names is None:
        del card["feature_names"]
    else:
        card["feature_names"] = names
    path.write_text(json.dumps(card))
    artefact = registry_copy.load()  # the manifest is not hashed: the model check is BatchModel's
    with pytest.raises(ModelIntegrityError, match="retrain"):
        BatchModel(artefact)


def test_versions_promote_and_current(tmp_path, model_dir):
    model_bytes = ModelRegistry(model_dir).load().model_bytes
    manifest = {"feature_names": list(FEATURE_NAMES)}
    registry = ModelRegistry(tmp_path / "reg")
    assert registry.versions() == []
    with pytest.raises(ModelNotFoundError):
        registry.current()
    with pytest.raises(ModelNotFoundError):
        registry.load()

    registry.save("20260101-000000-aaaa", model_bytes, manifest)
    assert registry.current() == "20260101-000000-aaaa"
    registry.save("20260102-000000-bbbb", model_bytes, manifest)
    assert registry.versions() == ["20260101-000000-aaaa", "20260102-000000-bbbb"]
    assert registry.current() == "20260102-000000-bbbb"  # saving promotes
    assert registry.load().version == "20260102-000000-bbbb"

    registry.promote("20260101-000000-aaaa")
    assert registry.current() == "20260101-000000-aaaa"
    assert ModelRegistry(tmp_path / "reg").load().version == "20260101-000000-aaaa"
    assert registry.load("20260102-000000-bbbb").version == "20260102-000000-bbbb"
    assert not (registry.root / "CURRENT.tmp").exists()

    with pytest.raises(ModelNotFoundError):
        registry.promote("nope")
    assert registry.current() == "20260101-000000-aaaa"
    with pytest.raises(ModelNotFoundError):
        registry.load("nope")
    with pytest.raises(FileExistsError):
        registry.save("20260101-000000-aaaa", b"{}", manifest)
    assert registry.load("20260101-000000-aaaa").model_bytes == model_bytes

    # A half-written version (staging folder) is not a version.
    (registry.root / "versions" / ".20260103-000000-cccc.tmp").mkdir()
    assert registry.versions() == ["20260101-000000-aaaa", "20260102-000000-bbbb"]


def test_training_is_reproducible_for_a_fixed_seed(training_set, model_dir):
    a = train(training_set, seed=3, validation_share=0.3)
    b = train(training_set, seed=3, validation_share=0.3)
    assert a.model_bytes == b.model_bytes
    assert a.version.split("-")[-1] == b.version.split("-")[-1]
    # The session's registered model was trained so on the same history (tests/conftest.py).
    assert ModelRegistry(model_dir).load().model_bytes == a.model_bytes

    def predict(model_bytes: bytes) -> np.ndarray:
        booster = xgb.Booster()
        booster.load_model(bytearray(model_bytes))
        return booster.inplace_predict(training_set.x, missing=np.nan)

    np.testing.assert_array_equal(predict(a.model_bytes), predict(b.model_bytes))
    assert {k: v for k, v in a.manifest.items() if k != "created_at"} == {
        k: v for k, v in b.manifest.items() if k != "created_at"
    }

    other = train(training_set, seed=4)
    assert other.model_bytes != a.model_bytes  # the seed is used (row and column subsampling)


def test_training_refuses_too_little_history(training_set):
    small = TrainingSet(x=training_set.x[:99], y=training_set.y[:99], times_ms=training_set.times_ms[:99])
    with pytest.raises(ValueError, match="too little history"):
        train(small)
    no_fraud = TrainingSet(x=training_set.x, y=np.zeros_like(training_set.y), times_ms=training_set.times_ms)
    with pytest.raises(ValueError, match="0 frauds"):
        train(no_fraud)
