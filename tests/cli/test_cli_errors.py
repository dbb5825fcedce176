"""Expected failures of the CLI are one line, with exit code 2 for usage and 1 for runtime,
checked before the work starts, and a traceback only with --debug (issue 15, item 2).
The services are real ports where nothing listens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.errors import one_line
from contracts.errors import KafkaUnreachable, RiskwireError, UsageError
from embedded import free_port
from models.errors import ModelNotFoundError

ROOT = Path(__file__).resolve().parents[2]
EVALUATE = ["evaluate", "--transactions", "tx.jsonl", "--labels", "labels.jsonl", "--decisions", "tx.jsonl"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("cli-errors")
    dead_kafka, dead_redis = free_port(), free_port()
    tx = {
        "event_id": "e1",
        "occurred_at": "2026-01-01T00:00:00Z",
        "amount": 10.0,
        "currency": "EUR",
        "card_id": "c1",
        "merchant_id": "m1",
    }
    (home / "tx.jsonl").write_text(json.dumps(tx) + "\n")
    (home / "labels.jsonl").write_text("")
    return {
        **os.environ,
        "RISKWIRE_KAFKA_BOOTSTRAP": f"127.0.0.1:{dead_kafka}",
        "RISKWIRE_REDIS_URL": f"redis://127.0.0.1:{dead_redis}/0",
        "RISKWIRE_MODEL_DIR": str(home / "models"),
        "RISKWIRE_VAR_DIR": str(home / "var"),
        "HOME_DIR": str(home),
    }


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, list[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=env["HOME_DIR"],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines, time.monotonic() - started


def _assert_one_line(lines: list[str], *words: str) -> None:
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, lines
    assert not any("Traceback" in line or "|FAIL|" in line for line in lines), lines
    for word in words:
        assert word in errors[0], errors[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["keys", "list"], ["Redis at 127.0.0.1:", "unreachable", "RISKWIRE_REDIS_URL"]),
        (["backfill", "--transactions", "tx.jsonl"], ["Redis at", "unreachable"]),
        (
            [
                "replay",
                "--transactions",
                "tx.jsonl",
                "--out",
                "x.jsonl",
                "--redis-url",
                "redis://127.0.0.1:1/0",
            ],
            ["Redis at 127.0.0.1:1 unreachable"],
        ),
        (["topics", "create"], ["Kafka at 127.0.0.1:", "unreachable", "RISKWIRE_KAFKA_BOOTSTRAP"]),
        (["worker"], ["Kafka at 127.0.0.1:", "unreachable"]),
        (["simulate", "--days", "1", "--publish"], ["Kafka at 127.0.0.1:", "unreachable"]),
    ],
)
def test_a_service_down_is_one_line_exit_1(env, args, words):
    code, lines, _ = _run(env, *args)
    assert code == 1, lines
    _assert_one_line(lines, *words)
    if args[0] == "simulate":
        assert not any("simulating" in line for line in lines), "checked before the work"


def test_an_unknown_model_version_is_one_line_exit_1(env):
    code, lines, _ = _run(
        env, "replay", "--transactions", "tx.jsonl", "--out", "x.jsonl", "--model-version", "nope"
    )
    assert code == 1
    _assert_one_line(lines, "nope")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["replay", "--transactions", "tx.jsonl", "--out", "/missing/dir/x.jsonl"], ["'/missing/dir'"]),
        (
            [
                "evaluate",
                "--transactions",
                "tx.jsonl",
                "--labels",
                "labels.jsonl",
                "--decisions",
                "tx.jsonl",
                "--mark-day",
                "29-01-2026",
            ],
            ["--mark-day"],
        ),
        (
            [
                "evaluate",
                "--transactions",
                "tx.jsonl",
                "--labels",
                "labels.jsonl",
                "--decisions",
                "tx.jsonl",
                "--mark-day",
                "2026-01-29",
            ],
            ["need --compare"],
        ),
        (
            [
                "evaluate",
                "--transactions",
                "tx.jsonl",
                "--labels",
                "labels.jsonl",
                "--decisions",
                "tx.jsonl",
                "--compare-png",
                "p.png",
            ],
            ["need --compare"],
        ),
        (
            [
                "evaluate",
                "--transactions",
                "tx.jsonl",
                "--labels",
                "labels.jsonl",
                "--decisions",
                "tx.jsonl",
                "--html",
                "/nonexistent-riskwire/r.html",
            ],
            ["does not exist"],
        ),
    ],
)
def test_bad_arguments_are_one_line_exit_2_before_any_work(env, args, words):
    code, lines, _ = _run(env, *args)
    assert code == 2, lines
    _assert_one_line(lines, *words)
    assert not any("reading inputs" in line or "replaying" in line for line in lines), lines
    assert not Path("/nonexistent-riskwire").exists(), "no directory created at the root"


@pytest.mark.parametrize(
    "args", [["replay", "--bogus"], ["train"], ["keys", "create", "--role", "king", "--name", "x"], ["nope"]]
)
def test_a_usage_error_is_exactly_one_line_that_points_at_the_help(env, args):
    code, lines, _ = _run(env, *args)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("Error: ") and "--help`)" in lines[0], lines


def test_debug_shows_the_traceback(env):
    code, lines, _ = _run(env, "--debug", "keys", "list")
    assert code == 1
    assert any(line.startswith("Traceback") for line in lines)


def test_every_error_has_one_root_and_its_exit_code():
    assert issubclass(ModelNotFoundError, RiskwireError)
    assert one_line(UsageError("bad")).exit_code == 2
    assert one_line(KafkaUnreachable.at("h:1")).exit_code == 1
    bug = one_line(ZeroDivisionError("division by zero"))
    assert bug.exit_code == 1 and "--debug" in bug.message and "\n" not in bug.message
    assert one_line(FileNotFoundError(2, "No such file or directory", "/x/y")).message == (
        "No such file or directory: /x/y"
    )
