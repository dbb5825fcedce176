"""Errors of the models package.

::

    ModelError
    ├── ModelNotFoundError    no such version, or no model trained yet
    └── ModelIntegrityError   an artefact fails its manifest check; never loaded
"""

from contracts.errors import RiskwireError


class ModelError(RiskwireError):
    """Root of every models error (a RiskwireError: the CLI shows it as one line)."""


class ModelNotFoundError(ModelError):
    pass


class ModelIntegrityError(ModelError):
    pass
