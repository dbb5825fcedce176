"""The online learner as the worker uses it: blend per batch, learn per label batch, checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from models.blend import BlendConfig, Blender
from models.errors import ModelIntegrityError
from models.learner import OnlineLearner
from models.online import OnlineModel
from tests.models.synthetic import SYNTH_NAMES, flipping_stream

BEFORE, AFTER, BATCH = 3000, 3000, 50


def _run(learner: OnlineLearner, x, y, p_batch):
    """Score each micro-batch, then learn its labels: the worker's order of things."""
    online, blended, weights, events = [], [], [], []
    for s in range(0, len(x), BATCH):
        part = slice(s, s + BATCH)
        result = learner.blend(x[part], p_batch[part])
        online.append(result.online_probability)
        blended.append(result.probability)
        weights.append(result.online_weight)
        events += learner.learn(
            x[part], y[part], p_batch[part], times_ms=np.arange(s, s + BATCH)[: len(y[part])]
        )
    return np.concatenate(online), np.concatenate(blended), np.array(weights), events


@pytest.fixture(scope="module")
def stream():
    return flipping_stream(seed=1, before=BEFORE, after=AFTER, width=len(SYNTH_NAMES))


@pytest.fixture(scope="module")
def wide_stream():
    """The same stream over the real catalogue's width, for checkpoint tests."""
    return flipping_stream(seed=1, before=BEFORE, after=AFTER)


@pytest.fixture(scope="module")
def run(stream):
    x, y, p_batch, _ = stream
    return _run(OnlineLearner(OnlineModel(names=SYNTH_NAMES)), x, y, p_batch)


def test_after_a_concept_flip_the_blend_moves_to_the_online_model(stream, run):
    _x, _y, _p_batch, _ = stream
    _online, _blended, weights, events = run
    flip = BEFORE // BATCH
    assert weights[:flip].max() == 0.0  # the frozen batch model is better before the flip: all its own
    assert weights[flip + 20 :].mean() >= 0.65  # and loses the blend after it
    assert weights[flip + 25 :].min() >= 0.6
    assert [e.detector for e in events] == ["adwin_batch_error"]
    assert BEFORE < events[0].at_ms < BEFORE + 1000 and events[0].learned == events[0].at_ms


def test_online_precision_recovers_after_the_flip_while_the_batch_models_does_not(stream, run):
    _x, y, p_batch, _ = stream
    online, blended, _, _ = run
    ap = lambda p, rows: average_precision_score(y[rows], p[rows])  # noqa: E731
    recovery = slice(BEFORE + 300, BEFORE + 1000)  # a few hundred labels after the flip
    assert ap(online, recovery) > 3 * ap(p_batch, recovery)
    assert ap(blended, recovery) > 3 * ap(p_batch, recovery)
    late = slice(BEFORE + 1000, None)
    assert ap(online, late) > 0.45 > 0.15 > ap(p_batch, late)


def test_switched_off_the_blend_is_the_batch_model(stream):
    x, y, p_batch, _ = stream
    learner = OnlineLearner(OnlineModel(names=SYNTH_NAMES), Blender(BlendConfig(enabled=False)))
    _, blended, weights, _ = _run(learner, x[:2000], y[:2000], p_batch[:2000])
    assert (weights == 0.0).all()
    np.testing.assert_array_equal(blended, p_batch[:2000])
    assert learner.learned == 2000  # it still learns, for comparisons


def test_checkpoint_restores_the_same_blend_and_the_same_future_learning(wide_stream):
    x, y, p_batch, _ = wide_stream
    a = OnlineLearner(origin="v1")
    a.learn(x[:3100], y[:3100], p_batch[:3100])
    text = json.dumps(a.to_state())
    b = OnlineLearner.from_state(json.loads(text))
    assert b.online_version == a.online_version == "v1+3100" and b.version == a.version == 1
    ra, rb = a.blend(x[3100:3200], p_batch[3100:3200]), b.blend(x[3100:3200], p_batch[3100:3200])
    np.testing.assert_array_equal(ra.probability, rb.probability)
    assert ra.online_weight == rb.online_weight
    rest = slice(3100, 4500)
    assert a.learn(x[rest], y[rest], p_batch[rest]) == b.learn(x[rest], y[rest], p_batch[rest])
    assert json.dumps(a.to_state()) == json.dumps(b.to_state())
    np.testing.assert_array_equal(a.blend(x, p_batch).probability, b.blend(x, p_batch).probability)


def test_blend_is_pure_and_learn_checks_shapes(wide_stream):
    x, y, p_batch, _ = wide_stream
    learner = OnlineLearner()
    learner.learn(x[:100], y[:100], p_batch[:100])
    before = json.dumps(learner.to_state())
    learner.blend(x, p_batch)
    assert json.dumps(learner.to_state()) == before
    with pytest.raises(ValueError):
        learner.learn(x[:10], y[:9], p_batch[:10])
    assert learner.learn(x[:0], y[:0], p_batch[:0]) == [] and learner.version == 1


def test_a_foreign_state_is_refused():
    with pytest.raises(ModelIntegrityError):
        OnlineLearner.from_state({"format": "something-else"})
    state = OnlineLearner().to_state()
    del state["drift"]
    with pytest.raises(ModelIntegrityError, match="unreadable"):
        OnlineLearner.from_state(state)
