"""The bench's options (flags and ``BENCH_*`` variables), apart from the bench itself: this
module imports nothing heavy, so `python -m bench --help` answers at once."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STAGE_BATCHES", "Options", "parse_args", "stage_events"]

STAGE_BATCHES = (1, 100, 1000)
DESCRIPTION = (
    "The hot path's figures beside their peers: the worker against a decode-only agent and a "
    "broker hop, Redis CPU per event, latency at a steady rate, stage costs and replay (README, "
    "'Benchmarks')."
)


def stage_events(size: int, per_size: int, max_single: int = 600) -> int:
    """How many events ``bench.stages.stage_costs`` measures at batch ``size``."""
    wanted = min(per_size, max_single) if size == 1 else per_size
    return max(size, wanted // size * size)


@dataclass
class Options:
    events: int = 30_000
    rate: float = 1_000.0
    seconds: float = 20.0
    cards: int = 2000
    history_days: int = 30
    stage_events: int = 3000
    replay_events: int | None = None
    api: bool = True
    json_path: Path = Path("var/bench.json")
    redis_cluster: bool = False
    # Issue 18: the worker again on as many fresh payments, decisions in an embedded PostgreSQL.
    postgres: bool = True

    @property
    def steady_events(self) -> int:
        return int(self.rate * self.seconds)

    @property
    def replayed(self) -> int:
        return self.events if self.replay_events is None else min(self.replay_events, self.events)

    def stage_chunk(self) -> int:
        return sum(stage_events(size, self.stage_events) for size in STAGE_BATCHES)

    def after_history(self) -> int:
        """Payments needed after the history: the burst, the steady run, the stage costs
        (and the PostgreSQL burst)."""
        return self.events * (1 + int(self.postgres)) + self.steady_events + self.stage_chunk()


def _env(name: str, default: Any, kind: Callable[[str], Any]) -> Any:
    raw = os.environ.get(name)
    return default if raw in (None, "") else kind(raw)


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def parse_args(argv: Sequence[str] | None = None, prog: str = "python -m bench") -> Options:
    d = Options()
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    p.add_argument(
        "--events",
        type=int,
        default=_env("BENCH_EVENTS", d.events, int),
        help="payments waiting for the worker and the decode-only agent (BENCH_EVENTS, %(default)s)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=_env("BENCH_RATE", d.rate, float),
        help="steady publish rate of the latency runs, events/s (BENCH_RATE, %(default)s)",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=_env("BENCH_SECONDS", d.seconds, float),
        help="length of each latency run (BENCH_SECONDS, %(default)s)",
    )
    p.add_argument(
        "--cards",
        type=int,
        default=_env("BENCH_CARDS", d.cards, int),
        help="simulated cards (BENCH_CARDS, %(default)s)",
    )
    p.add_argument(
        "--history-days",
        type=int,
        default=_env("BENCH_HISTORY_DAYS", d.history_days, int),
        help="days of history to train on and backfill (BENCH_HISTORY_DAYS, %(default)s)",
    )
    p.add_argument(
        "--stage-events",
        type=int,
        default=_env("BENCH_STAGE_EVENTS", d.stage_events, int),
        help="events per batch size for the stage costs (BENCH_STAGE_EVENTS, %(default)s)",
    )
    p.add_argument(
        "--replay-events",
        type=int,
        default=_env("BENCH_REPLAY_EVENTS", None, int),
        help="payments replayed (BENCH_REPLAY_EVENTS; default: all of --events)",
    )
    p.add_argument(
        "--no-api",
        dest="api",
        action="store_false",
        default=_env("BENCH_API", True, _flag),
        help="skip the API lookup figure (BENCH_API=0)",
    )
    p.add_argument(
        "--no-postgres",
        dest="postgres",
        action="store_false",
        default=_env("BENCH_POSTGRES", True, _flag),
        help="skip the worker run with decisions in PostgreSQL (BENCH_POSTGRES=0)",
    )
    p.add_argument(
        "--json",
        dest="json_path",
        type=Path,
        default=_env("BENCH_JSON", d.json_path, Path),
        help="where to write the figures (BENCH_JSON, %(default)s)",
    )
    p.add_argument(
        "--redis-cluster",
        action="store_true",
        default=_env("BENCH_REDIS_CLUSTER", False, _flag),
        help="run against an embedded 3-master Redis Cluster (hook: needs embedded/cluster.py)",
    )
    ns = p.parse_args(argv)
    opts = Options(**vars(ns))
    for name in ("events", "cards", "history_days", "stage_events"):
        if getattr(opts, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if opts.rate <= 0 or opts.seconds <= 0:
        p.error("--rate and --seconds must be positive")
    return opts
