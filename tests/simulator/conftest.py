"""Shared fixtures of the simulator tests: the default dataset, built once."""

from __future__ import annotations

import pytest

from simulator import Simulation, SimulationConfig, simulate


@pytest.fixture(scope="session")
def sim() -> Simulation:
    """The default dataset (about 100k transactions), built once."""
    return simulate(SimulationConfig())
