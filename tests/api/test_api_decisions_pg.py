"""The API's decision tests that do not look inside Redis, run again with the records in
PostgreSQL (``RISKWIRE_DATABASE_URL``, issue 18): lookups and tenant isolation, search
pages, scoping under writes, cursors, records served unchanged."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from contracts.settings import Settings
from store.database import upgrade
from tests.api.test_api_decisions import (  # noqa: F401  (pytest collects what is imported here)
    corpus,
    test_cross_account_lookups_answer_404_exactly_like_unknown_ids,
    test_cursor_is_bound_to_its_query_and_page_size_is_capped,
    test_records_serve_unchanged,
    test_search_is_scoped_to_the_keys_account_and_pages_stay_exact_under_writes,
    test_search_pages_return_every_match_exactly_once_newest_first,
)

pytestmark = pytest.mark.services


@pytest.fixture()
def api_settings(api_settings: Settings, database_url: str) -> Settings:
    """The conftest's settings, with the decision records in a fresh PostgreSQL database."""
    asyncio.run(upgrade(database_url))
    return api_settings.model_copy(update={"database_url": SecretStr(database_url)})
