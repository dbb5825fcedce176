"""Helpers of the console's browser tests (plain functions; fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contracts.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
REVIEW_RULE = "review if :amount: > 400"


@dataclass
class Console:
    url: str
    settings: Settings
    keys: dict[str, str]
    ids: dict[str, list[str]] = field(default_factory=dict)

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=20
        )


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(pg, console: Console, who: str) -> None:
    pg.goto(console.url + "/ui/payments")
    assert "/ui/signin" in pg.url
    pg.fill("#key", console.keys[who])
    pg.click("button[type=submit]")
    pg.wait_for_url("**/ui/payments")
