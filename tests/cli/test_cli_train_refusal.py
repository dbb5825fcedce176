"""`riskwire train` on too little history: one line, no traceback; too few validation frauds: not current."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.train import train_cmd
from contracts.settings import get_settings
from models.errors import ModelNotFoundError
from models.loading import ModelRegistry
from simulator import SimulationConfig, simulate, write_jsonl


def _history(tmp_path: Path, days: float, cards: int) -> list[str]:
    sim = simulate(SimulationConfig(seed=5, days=days, cards=cards, merchants=40))
    write_jsonl(tmp_path / "t.jsonl", sim.transactions)
    write_jsonl(tmp_path / "l.jsonl", sim.labels)
    return ["--transactions", str(tmp_path / "t.jsonl"), "--labels", str(tmp_path / "l.jsonl")]


def test_a_week_of_a_small_shop_is_refused_in_one_line(tmp_path: Path) -> None:
    args = [*_history(tmp_path, 7, 150), "--model-dir", str(tmp_path / "m")]
    result = CliRunner().invoke(train_cmd, args)
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and ("too little history" in last or "validation window" in last)
    assert "Traceback" not in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit)


@pytest.fixture
def high_bar(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A bar this small history cannot reach (the default 30 needs a bigger one to show).
    monkeypatch.setenv("RISKWIRE_TRAIN_MIN_VALIDATION_FRAUDS", "100000")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("high_bar")
def test_too_few_validation_frauds_is_kept_but_not_current_unless_forced(tmp_path: Path) -> None:
    history = _history(tmp_path, 14, 300)
    refused = CliRunner().invoke(train_cmd, [*history, "--model-dir", str(tmp_path / "a")])
    assert refused.exit_code == 1, refused.output
    assert "not made current" in refused.output and "--force" in refused.output
    registry = ModelRegistry(tmp_path / "a")
    with pytest.raises(ModelNotFoundError):
        registry.current()
    assert len(list((tmp_path / "a" / "versions").iterdir())) == 1  # kept for a manual promote
    forced = CliRunner().invoke(train_cmd, [*history, "--model-dir", str(tmp_path / "b"), "--force"])
    assert forced.exit_code == 0, forced.output
    assert ModelRegistry(tmp_path / "b").current()
