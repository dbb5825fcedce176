"""Schemathesis over the whole OpenAPI document with an admin key: no 5xx, and every
response conforms to the document (status code, content type, headers, body schema).

Runs against the real app (lifespan, Redis, Kafka) through ASGI, with some decisions
and reviews stored so that lookups and the review queue have something to answer.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from tests.api.apihelp import bearer, create_topic, decision_body, new_key, put, tx

pytestmark = pytest.mark.services

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture()
def admin_headers(api_settings):
    return bearer(new_key(api_settings, "admin")[1])


@pytest.fixture()
def api_schema(api_settings):
    create_topic(api_settings.bootstrap, api_settings.topic_labels)
    put(
        api_settings,
        [(tx(f"s{i}", account="acme", card="c1"), decision_body(f"s{i}")) for i in range(5)]
        + [
            (tx(f"v{i}", card="c1"), decision_body(f"v{i}", level="elevated", decision="review", score=70))
            for i in range(5)
        ],
    )
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(api_settings))
    shutdown_lifespans()  # the app's lifespan ran in Schemathesis' event loop


def test_the_whole_api_conforms_to_its_openapi_document(api_schema, admin_headers):
    # Schemathesis' pytest integration (from_fixture) does not run on pytest 9, so each operation's
    # strategy is driven by Hypothesis here, in positive and negative generation modes.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=25,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                case.call_and_validate(headers=dict(admin_headers), checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, no body
            except Exception as exc:
                raise AssertionError(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}"
                ) from exc
