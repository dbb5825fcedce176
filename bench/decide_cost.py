"""SHAP and decision-building cost per event at batch 1,000 (same events, one process).

``python -m bench.decide_cost [--data DIR]``: a simulated history is trained on once
and its last events' point-in-time features kept in ``DIR`` (default
``/tmp/riskwire-decide-bench``), so runs on different code measure the same events.
Times ``decide()`` whole and, inside it, the ``pred_contribs`` call(s); "build" is
what ``decide()`` spends besides the model and SHAP calls. ``--baseline`` times
another ``ScoringPipeline`` (say ``git show main:pipeline/scoring.py``) in the same
process on the same events.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.stages import StageTimer
from contracts.records import Transaction
from explain.risk_score import RiskPolicy
from models.batch_model import BatchModel
from models.loading import ModelRegistry
from pipeline.live_state import LiveState
from pipeline.record_shapes import topic_body
from pipeline.scoring import ScoringPipeline


def _prepare(root: Path) -> None:
    from features.aggregates import parse_aggregates
    from features.offline import OfflineFeatureEngine
    from models.training import build_training_set, train
    from simulator import SimulationConfig, simulate

    sim = simulate(SimulationConfig(seed=7, days=21, cards=2000))
    txs = [Transaction.model_validate(t) for t in sim.transactions]
    from contracts.records import Label

    labels = [Label.model_validate(x) for x in sim.labels]
    result = train(build_training_set(txs, labels), seed=3)
    ModelRegistry(root / "models").save(result.version, result.model_bytes, result.manifest)
    raw = parse_aggregates(OfflineFeatureEngine().record_and_fetch(txs))
    tail = slice(len(txs) - 4000, len(txs))
    # JSON and .npy, never pickle: nothing read back can run code.
    (root / "events.json").write_bytes(orjson.dumps([t.model_dump(mode="json") for t in txs[tail]]))
    np.save(root / "raw.npy", raw[tail], allow_pickle=False)


def measure(
    root: Path,
    policy: RiskPolicy,
    size: int = 1000,
    repeat: int = 5,
    pipeline_class: type[Any] = ScoringPipeline,
    clock: Callable[[], float] = time.perf_counter,
    **kw: Any,
) -> dict[str, float]:
    model = BatchModel(ModelRegistry(root / "models").load())
    dumped = orjson.loads((root / "events.json").read_bytes())
    raw = np.load(root / "raw.npy", allow_pickle=False)
    txs = [Transaction.model_validate(t) for t in dumped]
    # An older pipeline (``--baseline``) took the model itself, not a live state.
    takes_live = "live" in inspect.signature(pipeline_class).parameters
    held = {"live": LiveState(model)} if takes_live else {"model": model}
    pipeline = pipeline_class(features=None, decisions=None, policy=policy, **held, **kw)
    timer = StageTimer(model, clock)
    best: dict[str, float] | None = None
    for _ in range(repeat):
        timer.spent.update(model=0.0, explain=0.0)
        total = dumps = 0.0
        n = alerts = nbytes = topic_bytes = 0
        for i in range(0, len(txs) - size + 1, size):
            b, r = txs[i : i + size], raw[i : i + size]
            a = clock()
            out = pipeline.decide(b, r, time.time())
            out = getattr(out, "records", out)  # older pipelines answered the records alone
            m = clock()
            bodies = [orjson.dumps(d) for d in out]
            z = clock()
            total += m - a
            dumps += z - m
            n += len(b)
            alerts += sum(d["decision"] != "allow" for d in out)
            nbytes += sum(len(x) for x in bodies)
            topic_bytes += sum(len(topic_body(x) if "feature_vector" in out[0] else x) for x in bodies)
        spent = timer.spent
        row = {
            "events": float(n),
            "alert_share": alerts / n,
            "decide_us": total / n * 1e6,
            "predict_us": spent["model"] / n * 1e6,
            "shap_us": spent["explain"] / n * 1e6,
            "build_us": (total - spent["explain"] - spent["model"]) / n * 1e6,
            "serialise_us": dumps / n * 1e6,
            "stored_bytes": nbytes / n,
            "topic_bytes": topic_bytes / n,
        }
        if best is None or row["decide_us"] < best["decide_us"]:
            best = row
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("/tmp/riskwire-decide-bench"))
    parser.add_argument(
        "--baseline",
        type=Path,
        help="Also time the ScoringPipeline of this file (e.g. an older pipeline/scoring.py)",
    )
    args = parser.parse_args()
    if not (args.data / "events.pkl").exists():
        args.data.mkdir(parents=True, exist_ok=True)
        _prepare(args.data)
    runs: list[tuple[str, type[Any], dict[str, Any]]] = []
    if args.baseline is not None:
        spec = importlib.util.spec_from_file_location("baseline_scoring", args.baseline)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        runs.append(("baseline", module.ScoringPipeline, {}))
    runs += [("alerts only", ScoringPipeline, {}), ("SHAP forced on", ScoringPipeline, {"explain_all": True})]
    # Wall time, and CPU time of the process (all threads): on a shared machine the
    # latter says what the work costs when other processes hold the cores.
    for clock_name, clock in (("wall", time.perf_counter), ("cpu", time.process_time)):
        for name, cls, kw in runs:
            row = measure(args.data, RiskPolicy(), pipeline_class=cls, clock=clock, **kw)
            label = f"{name} ({clock_name})"
            print(f"{label:>22}", "  ".join(f"{k}={v:,.3g}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
