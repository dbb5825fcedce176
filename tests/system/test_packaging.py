"""The Docker image and the compose file cannot drift from the package (issue 15, item 1).

There is no Docker engine here, so the files themselves are checked, and the wheel is
built from exactly the files the Dockerfile copies (the build context less .dockerignore).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pathspec
import pytest
import yaml

from cli.main import main as cli
from contracts.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES: list[str] = PYPROJECT["tool"]["setuptools"]["packages"]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _context_files() -> list[Path]:
    """What `docker build .` sends and `COPY . .` copies: all but .dockerignore's patterns."""
    ignore = pathspec.PathSpec.from_lines("gitignore", (ROOT / ".dockerignore").read_text().splitlines())
    files = []
    for top, dirs, names in os.walk(ROOT):
        rel_top = Path(top).relative_to(ROOT)
        dirs[:] = [d for d in dirs if not ignore.match_file(f"{(rel_top / d).as_posix()}/")]
        files += [rel_top / n for n in names if not ignore.match_file((rel_top / n).as_posix())]
    return files


def _dockerfile() -> list[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]


def test_the_dockerfile_copies_the_project_whole_runs_as_a_user_and_checks_health():
    lines = _dockerfile()
    copies = [line for line in lines if line.startswith(("COPY", "ADD"))]
    assert copies == ["COPY . ."], "copy the whole context; leave things out in .dockerignore"
    users = [line.split()[1] for line in lines if line.startswith("USER")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert 'ENTRYPOINT ["riskwire"]' in lines


def test_every_package_directory_is_listed_in_pyproject_and_copied():
    on_disk = {
        p.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for p in ROOT.glob("*/**/__init__.py")
        # Not the product: tests, benchmarks, dev tools, and what runs leave (var/mutate copies the tree).
        if p.parts[len(ROOT.parts)] not in ("tests", "bench", "tools", "var", "mutants", ".venv", "build")
    }
    assert on_disk == set(PACKAGES), "pyproject's package list and the source tree differ"
    copied = {f.as_posix() for f in _context_files()}
    for name in ("pyproject.toml", "constraints.txt", "README.md", "LICENSE"):
        assert name in copied, f"{name} is needed by the build and is not copied"
    for package in PACKAGES:
        assert f"{package.replace('.', '/')}/__init__.py" in copied, f"{package} is not copied"


def test_the_wheel_builds_from_exactly_what_the_dockerfile_copies(tmp_path):
    context = tmp_path / "context"
    for rel in _context_files():
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, context / rel)
    out = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(context)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = out.glob("riskwire-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    assert any(n.startswith("store/lua/") and n.endswith(".lua") for n in names)
    assert any(n.endswith("/licenses/LICENSE") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "riskwire = cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _env(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def test_compose_settings_are_real_settings_and_commands_real_verbs():
    fields = {f"RISKWIRE_{name.upper()}" for name in Settings.model_fields}
    for name, service in COMPOSE["services"].items():
        for key in _env(service):
            if key.startswith("RISKWIRE_"):
                assert key in fields, f"{name}: {key} is no setting"
        command = service.get("command")
        if command and service.get("image", "").startswith("riskwire"):
            assert command[0] in cli.commands, f"{name}: {command[0]} is no riskwire verb"


def test_compose_creates_topics_first_checks_health_and_has_a_writable_data_volume():
    services = COMPOSE["services"]
    topics = services["topics"]
    assert topics["command"] == ["topics", "create"] and topics.get("restart") == "no"
    env = _env(topics)
    assert int(env["RISKWIRE_TOPIC_PARTITIONS"]) >= 1 and int(env["RISKWIRE_TOPIC_REPLICATION"]) >= 1
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for name in ("worker", "api"):
        service = services[name]
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully", name
        assert "test" in service["healthcheck"], f"{name} has no healthcheck"
    port = re.search(r"127\.0\.0\.1:(\d+)/healthz", str(services["worker"]["healthcheck"]["test"]))
    assert port and int(port.group(1)) == Settings().worker_web_port
    volumes = services["riskwire"]["volumes"]
    data = [v for v in volumes if v.split(":")[1] == "/data"]
    assert data and not data[0].endswith(":ro"), "simulate --out /data needs a writable volume"


@pytest.mark.parametrize("where", ["README.md", "docker-compose.yml"])
def test_the_first_run_sequence_is_complete(where):
    text = (ROOT / where).read_text()
    steps = [
        "docker compose up -d kafka redis",
        "docker compose run --rm topics",
        "docker compose run --rm riskwire train ",
        "docker compose run --rm riskwire backfill ",
        "docker compose run --rm riskwire keys create ",
        "docker compose up -d worker api",
    ]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "the steps are out of order"
