"""Progress where a person waits (issue 15, item 7): a bar with a rate and an ETA on a
terminal, periodic one-line progress otherwise; XGBoost reports each boosting round."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb

from cli.progress import Progress
from models.fit_progress import RoundProgress

ROOT = Path(__file__).resolve().parents[2]


def test_without_a_terminal_a_line_per_period_with_rate_and_eta_then_a_last_line():
    out = io.StringIO()
    with Progress(1000, "scoring", file=out, every_s=0.0, tty=False) as bar:
        for _ in range(4):
            bar.update(250)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5, lines
    assert re.fullmatch(r"scoring: 250/1,000 events \(25%\), [\d,]+ events/s, ETA \d+:\d\d:\d\d", lines[0])
    assert re.fullmatch(r"scoring: 1,000 events in [\d.]+ s \([\d,]+ events/s\)", lines[-1])


def test_without_a_terminal_nothing_between_periods():
    out = io.StringIO()
    with Progress(10, "reading", file=out, every_s=3600.0, tty=False) as bar:
        bar.update(5)
    assert len(out.getvalue().splitlines()) == 1, "only the last line within the period"


def test_on_a_terminal_a_bar_with_rate_and_eta():
    out = io.StringIO()
    with Progress(10, "scoring", file=out, tty=True) as bar:
        bar.update(10)
    text = out.getvalue()
    assert "scoring" in text and "100%" in text
    assert re.search(r"\d\d:\d\d<\d\d:\d\d", text), "elapsed<remaining (the ETA)"
    assert "events/s" in text, "the rate"


def test_the_xgboost_fit_reports_each_boosting_round():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    data = xgb.DMatrix(x, label=(x[:, 0] > 0).astype(float))
    rounds: list[int] = []
    xgb.train(
        {"objective": "binary:logistic"}, data, num_boost_round=7, callbacks=[RoundProgress(rounds.append)]
    )
    assert rounds == [1] * 7


def test_train_shows_the_boosting_rounds_without_a_terminal(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RISKWIRE_MODEL_DIR": str(tmp_path / "models")}
    cli = [sys.executable, "-m", "cli"]
    data = tmp_path / "data"
    simulate = [*cli, "simulate", "--days", "20", "--cards", "400", "--out", str(data)]
    subprocess.run(simulate, env=env, check=True, capture_output=True)
    files = ["--transactions", str(data / "transactions.jsonl"), "--labels", str(data / "labels.jsonl")]
    done = subprocess.run(
        [*cli, "train", *files, "--force"],  # a small history: made current all the same
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"computing point-in-time features: [\d,]+ events in", done.stderr), done.stderr
    assert re.search(r"boosting rounds: \d+ rounds in [\d.]+ s", done.stderr), done.stderr
    assert "\r" not in done.stderr, "no bar redraws in a log"
