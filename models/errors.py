"""Errors of the models package.

::

    ModelError
    ├── ModelNotFoundError    no such version, or no model trained yet
    └── ModelIntegrityError   an artefact fails its manifest check; never loaded
"""


class ModelError(Exception):
    """Root of every models error."""


class ModelNotFoundError(ModelError):
    pass


class ModelIntegrityError(ModelError):
    pass
