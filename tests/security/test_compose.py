"""The compose file's Redis demands a password, read from .env, and the services use it."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_redis_takes_its_password_from_the_env_file() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    redis = doc["services"]["redis"]
    assert "--requirepass" in " ".join(redis["command"])
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    url = doc["x-riskwire"]["environment"]["RISKWIRE_REDIS_URL"]
    assert url.startswith("redis://:${REDIS_PASSWORD:?") and url.endswith("@redis:6379/0")
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert "REDIS_PASSWORD=\n" in (ROOT / ".env.example").read_text()
