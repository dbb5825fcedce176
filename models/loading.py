"""Loading models from the store: the registry that refuses what could not serve.

``models.registry`` keeps storage only (files, hashes, pointers); this module sits
above it and the models, so a version is deserialised as a ``BatchModel`` (features
the catalogue no longer has, a model XGBoost cannot read) and its online state as an
``OnlineLearner`` before it is promoted or shadowed, and the imports run one way:
``loading`` → ``batch_model``, ``learner`` → ``registry``.
"""

from __future__ import annotations

from models.batch_model import BatchModel
from models.learner import OnlineLearner
from models.registry import ModelArtefact, ModelStore

__all__ = ["ModelArtefact", "ModelRegistry"]


class ModelRegistry(ModelStore):
    """The model store, refusing before promotion (and ``check``) a version that could not
    serve: tampered or unlisted files, features the catalogue no longer has, a model
    XGBoost cannot read, an unreadable online state."""

    def verify(self, artefact: ModelArtefact) -> BatchModel:
        model = BatchModel(artefact)
        if (state := artefact.online_state()) is not None:
            OnlineLearner.from_state(state)
        return model

    def check(self, version: str) -> BatchModel:
        """``ModelStore.check``, returning the loaded model: who serves it next (hot reload)
        does not parse the booster again."""
        model = super().check(version)
        assert isinstance(model, BatchModel)
        return model
