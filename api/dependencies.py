"""Request dependencies; tests swap them with ``app.dependency_overrides``."""

from __future__ import annotations

from fastapi import Request

from pipeline.decision_store import DecisionStore


def get_decision_store(request: Request) -> DecisionStore:
    store: DecisionStore = request.app.state.decisions
    return store
