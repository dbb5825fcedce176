"""The on-call alerting rules and dashboard (issue 15, item 8): `promtool check rules`,
`promtool test rules` (each alert fires on the series it watches), and every series the
rules and the Grafana dashboard use is one the worker exports (or a recording rule)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stream.metrics import WorkerMetrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "riskwire-rules.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "riskwire-rules.test.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "riskwire.json"
SERIES = re.compile(r"\b(riskwire[a-z0-9_:]*|process_[a-z_]+|python_[a-z_]+|up)\b")
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:  # never skipped: the Makefile installs it (`make tools`)
        pytest.fail("promtool is missing: run `make tools` (apt-get install -y prometheus)")
    return found


def _exported() -> set[str]:
    names = set()
    for family in WorkerMetrics().registry.collect():
        names |= {family.name + s for s in SUFFIXES.get(family.type, [""])}
    return names | {"up"}  # `up` is Prometheus's own, per scrape target


def _series(expr: str) -> set[str]:
    return set(SERIES.findall(re.sub(r'"[^"]*"', '""', expr)))


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("command", [["check", "rules", RULES.name], ["test", "rules", RULE_TESTS.name]])
def test_promtool_accepts_the_rules_and_their_unit_tests(command):
    done = subprocess.run([_promtool(), *command], cwd=RULES.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_on_call_needs_are_there():
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    assert alerts == {
        "RiskwireWorkerDown",
        "RiskwireWorkerStalled",
        "RiskwireConsumerLagGrowing",
        "RiskwireDeadLetterSpike",
        "RiskwireDecisionRateOutOfBand",
        "RiskwireScorePsiHigh",
        "RiskwireOnlineWeightPinned",
    }
    tested = {t["alertname"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for t in case["alert_rule_test"]}  # fmt: skip
    assert tested == alerts, f"alerts without a promtool unit test: {alerts - tested}"


def test_every_series_the_rules_and_the_dashboard_use_is_exported():
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    known = _exported() | recorded
    used = {name for rule in _rules() for name in _series(rule["expr"])}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    on_dashboard = {name for p in panels for t in p["targets"] for name in _series(t["expr"])}
    assert used and on_dashboard
    assert used - known == set(), "rules use series nobody exports"
    assert on_dashboard - known == set(), "the dashboard uses series nobody exports"
