"""The store wing owns every Redis key name (issue 16): nothing outside ``store/`` spells
the key prefix, its Lua receives the prefix instead of spelling it, and every key family of
``store.layout`` is written down in ``docs/redis-keys.md``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from store import layout

ROOT = Path(__file__).resolve().parents[2]
#: Where a key name may be spelled out: the store wing, its documentation, and tests.
OWNERS = ("store/", "docs/", "tests/")
SOURCES = (".py", ".lua", ".html", ".js", ".sh")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [f for f in out.stdout.split() if f.endswith(SOURCES)]


def test_no_module_outside_the_store_names_a_key():
    spelled = [
        f"{f}:{n}"
        for f in _tracked()
        if not f.startswith(OWNERS)
        for n, line in enumerate((ROOT / f).read_text().splitlines(), 1)
        if layout.PREFIX in line
    ]
    assert spelled == [], f"key names built outside store/ (use store.layout): {spelled}"


def test_the_stores_lua_takes_its_prefix_as_an_argument():
    scripts = sorted((ROOT / "store" / "lua").glob("*.lua"))
    assert len(scripts) >= 9
    assert [s.name for s in scripts if layout.PREFIX in s.read_text()] == []
    # A script that names keys beyond its KEYS takes the prefix off its arguments first.
    for s in scripts:
        text = s.read_text()
        if "P .. " in text:
            assert "local P = table.remove(ARGV, 1)" in text, s.name


@pytest.mark.parametrize(
    "key",
    [
        layout.decision_key("<ref>"),
        layout.meta_key("<ref>"),
        layout.INDEX_ALL,
        layout.ACCOUNTS,
        layout.review_key("<ref>"),
        layout.review_queue_key("<status>"),
        layout.api_key("<id>"),
        layout.API_KEYS_INDEX,
        layout.rate_key("<id>"),
        layout.AUDIT,
        layout.ONLINE_SEQ,
        layout.ONLINE_STATE,
        layout.ONLINE_PENDING,
        layout.ONLINE_PENDING_AT,
        layout.ONLINE_SEEN,
        layout.RULES,
        layout.FeatureKeys().event("<ref>"),
        layout.FeatureKeys().since,
        layout.FeatureKeys().late,
    ],
)
def test_every_key_family_is_documented(key):
    doc = (ROOT / "docs" / "redis-keys.md").read_text()
    family = key.split("<")[0]
    assert family in doc, f"{key} is not in docs/redis-keys.md"
