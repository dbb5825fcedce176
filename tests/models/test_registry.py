"""Registry: the online learner's state as a verified artefact, and the shadow pointer."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest

from models.batch_model import BatchModel
from models.errors import ModelIntegrityError, ModelNotFoundError
from models.hot_reload import ModelFollower
from models.learner import OnlineLearner
from models.loading import ModelRegistry
from models.registry import MODEL_FILE, ONLINE_FILE
from models.training import train
from tests.models.synthetic import flipping_stream, history


@pytest.fixture(scope="module")
def trained():
    return train(history(seed=0, n=4000), seed=1, rounds=30)


@pytest.fixture(scope="module")
def learner_state():
    x, y, p, _ = flipping_stream(seed=0, before=300, after=0)
    learner = OnlineLearner(origin="v1")
    learner.learn(x, y, p)
    return learner.to_state()


@pytest.fixture()
def registry(tmp_path, trained, learner_state) -> ModelRegistry:
    reg = ModelRegistry(tmp_path / "models")
    reg.save("v1", trained.model_bytes, trained.manifest, online_state=learner_state)
    return reg


def test_online_state_is_stored_hashed_and_restored_exactly(registry, learner_state):
    artefact = registry.load("v1")
    assert artefact.manifest["files"][ONLINE_FILE] == hashlib.sha256(artefact.online_bytes).hexdigest()
    restored = OnlineLearner.from_state(artefact.online_state())
    assert restored.to_state() == learner_state and restored.online_version == "v1+300"
    x, _, p, _ = flipping_stream(seed=1, before=50, after=0)
    original = OnlineLearner.from_state(learner_state)
    np.testing.assert_array_equal(restored.blend(x, p).probability, original.blend(x, p).probability)
    # A version without one says so.
    registry.save("v2", artefact.model_bytes, {k: v for k, v in artefact.manifest.items() if k != "files"})
    assert registry.load("v2").online_state() is None


def test_tampered_online_state_is_refused_before_parsing(registry):
    path = registry.root / "versions" / "v1" / ONLINE_FILE
    state = json.loads(path.read_text())
    state["blend"]["boost"] = 1.0  # still a perfectly readable state
    path.write_text(json.dumps(state))
    with pytest.raises(ModelIntegrityError, match=r"online\.json does not match its SHA-256"):
        registry.load("v1")


def test_unlisted_and_unknown_artefacts_are_refused(registry):
    folder = registry.root / "versions" / "v1"
    (folder / "online.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelIntegrityError, match=r"not in the manifest: \['online\.pkl'\]"):
        registry.load("v1")
    # Listed with the right hash, but not an artefact this registry knows: refused all the same.
    manifest_path = folder / "manifest.json"
    card = json.loads(manifest_path.read_text())
    card["files"]["online.pkl"] = hashlib.sha256((folder / "online.pkl").read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="unknown artefacts"):
        registry.load("v1")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (pickle.dumps({"format": "riskwire-online-learner/1"}), "not a JSON object"),
        (b'{"format": "riskwire-online-learner/1", ', "not valid JSON"),
        (b'{"format": "something-else/9"}', "not a riskwire-online-learner/1 state"),
        (b'{"format": "riskwire-online-learner/1", "origin": "x"}', "unreadable"),
    ],
    ids=["pickle", "broken-json", "other-format", "incomplete"],
)
def test_wrong_format_online_state_is_refused_and_never_promoted(tmp_path, trained, payload, message):
    reg = ModelRegistry(tmp_path / "models")
    reg.save("good", trained.model_bytes, trained.manifest)
    folder = reg.root / "versions" / "good"
    bad = reg.root / "versions" / "bad"
    bad.mkdir()
    (bad / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes())
    (bad / ONLINE_FILE).write_bytes(payload)
    card = json.loads((folder / "manifest.json").read_text())
    card["files"][ONLINE_FILE] = hashlib.sha256(payload).hexdigest()  # honestly hashed, wrongly formed
    (bad / "manifest.json").write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match=message):
        reg.promote("bad")
    assert reg.current() == "good"
    with pytest.raises(ModelIntegrityError):
        reg.set_shadow("bad")
    assert reg.shadow() is None
    # A worker following the registry keeps its model when the bad version is made current anyway.
    follower = ModelFollower(reg, BatchModel(reg.load()), check_every_s=0.0)
    (reg.root / "CURRENT").write_text("bad\n")
    assert follower.refresh() is None and follower.model.version == "good"


def test_shadow_pointer(registry, trained):
    assert registry.shadow() is None
    registry.save("v2", trained.model_bytes, trained.manifest, promote=False)
    assert registry.current() == "v1"  # a candidate saved without promotion does not serve
    registry.set_shadow("v2")
    assert registry.shadow() == "v2" and registry.current() == "v1"
    assert ModelRegistry(registry.root).shadow() == "v2"  # file-based: every process sees it
    with pytest.raises(ModelNotFoundError):
        registry.set_shadow("nope")
    assert registry.shadow() == "v2"
    registry.set_shadow(None)
    assert registry.shadow() is None
    registry.set_shadow(None)  # idempotent


def test_a_version_that_decisions_may_name_is_not_removed(registry):
    from datetime import UTC, datetime, timedelta

    from models.errors import ModelError

    artefact = registry.load("v1")
    manifest = {k: v for k, v in artefact.manifest.items() if k != "files"}
    registry.save("v2", artefact.model_bytes, manifest)  # v1 served until now
    registry.save("v3", artefact.model_bytes, manifest, promote=False)  # never served
    with pytest.raises(ModelError, match="current"):
        registry.remove("v2", keep_s=60)
    with pytest.raises(ModelError, match="cannot be removed yet"):
        registry.remove("v1", keep_s=3600)
    later = datetime.now(UTC) + timedelta(hours=2)
    registry.remove("v1", keep_s=3600, now=later)  # its decisions have expired
    registry.remove("v3", keep_s=3600)
    assert registry.versions() == ["v2"]
    with pytest.raises(ModelNotFoundError):
        registry.remove("v1", keep_s=0)
