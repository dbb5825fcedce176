"""`make mutate`: mutation testing of the core, one module at a time, with mutmut 3.

Each core module runs in its own copy of the tree (``var/mutate/<module>/``) whose
``[tool.mutmut]`` names that module as the code to mutate and its own test files as
the tests: the kill rate of a module is then earned by the tests written for it, and a
run of one module never waits on another's slow suites. Not part of ``make test``.

    python -m tools.mutate                 # every core module, then the table
    python -m tools.mutate explain rules   # just those
    python -m tools.mutate --report        # the table from the last runs, no mutating
    python -m tools.mutate --timeout 600   # at most ten minutes per module

Modules whose tests need Redis or Kafka name them in ``services``: one embedded Redis
(and Tansu) is started for the module's whole run and handed to the tests through
``RISKWIRE_TEST_REDIS_URL`` / ``RISKWIRE_TEST_KAFKA_BOOTSTRAP``, which the ``services``
fixture (tests/conftest.py) then uses instead of starting its own; each pytest session
takes a Redis db of its own, so two mutants tested at once never share data. The tests'
model is trained once per module run (``RISKWIRE_TEST_MODEL_DIR``). The tests still talk
to a real Redis: nothing is mocked.

Mutmut 3 does not mutate decorated functions or the methods of decorated classes
(dataclasses, ``@njit`` kernels): its trampolines would change what the decorator
wraps. The numba kernel, codec and state arrays (``features/kernel.py``,
``features/codec.py``, ``features/kernel_states.py``) are therefore never mutated (a
mutant of a jitted function would need a fresh JIT compile per mutant); their tests
compare them with the pure-Python twin and a plain recomputation. Code that runs only at
import (before mutmut can switch a mutant on) is marked ``# pragma: no mutate block``
with the reason beside it, or left out (``features/catalogue.py``). What each module
leaves out, and why, is said beside it in ``MODULES``.

Equivalent mutants, reviewed by hand, are listed in ``tests/mutation/equivalent.toml``
with a one-line reason each; they do not count against the kill rate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutate"
EQUIVALENT = ROOT / "tests" / "mutation" / "equivalent.toml"
TARGET = 0.85
#: Mutmut's verdicts that count as killed (a timeout is a mutant that made the tests hang).
KILLED = frozenset({"killed", "timeout", "segfault", "caught by type check"})


@dataclass(frozen=True)
class Module:
    name: str
    #: Globs of the files to mutate (mutmut's ``only_mutate``).
    mutate: tuple[str, ...]
    #: Its own test files (and modules whose doctests are part of its tests).
    tests: tuple[str, ...]
    #: Embedded servers its tests need ("redis", "kafka"): started once for the module's
    #: whole run and named to the tests' ``services`` fixture (tests/conftest.py), so a
    #: mutant's pytest session only connects to them.
    services: tuple[str, ...] = ()


# Core modules and their own, fastest test files (no embedded services where possible).
MODULES: tuple[Module, ...] = (
    Module(
        "calibration",
        ("models/calibration.py",),
        ("tests/models/test_calibration.py", "models/calibration.py"),
    ),
    Module("blend", ("models/blend.py",), ("tests/models/test_blend.py", "models/blend.py")),
    # The reasons, risk score and decision reasons; the tests that need a trained model (exact
    # TreeSHAP) or the services are left out: ~20 s of training per mutant.
    Module(
        "explain",
        ("explain/*",),
        (
            *(
                f"tests/explain/test_explain.py::test_{t}"
                for t in (
                    "every_feature_has_a_template",
                    "reason_text_for_typical_values",
                    "reason_text_for_missing_values",
                    "reason_text_other_values",
                    "top_reasons_crafted",
                    "risk_score_is_monotone_and_bounded",
                    "risk_score_rounds_half_up_at_the_thresholds",
                    "policy_boundaries_default",
                    "policy_custom_thresholds",
                    "policy_invalid_thresholds",
                    "lowering_reasons_are_the_strongest_negative_contributors",
                    "a_cause_already_raising_the_risk_is_not_also_listed_as_lowering_it",
                    "explain_row_does_not_list_a_raising_cause_as_lowering",
                )
            ),
            "tests/explain/test_explain_lines.py",
            "explain/",
        ),
    ),
    # The pure-Python features and the online store around them, against one shared Redis.
    # Not mutated: the numba kernel, codec and state arrays (@njit, which mutmut skips) and
    # features/catalogue.py (a table built at import, before a mutant can be switched on).
    # Left out of its tests: the two that stream the whole simulated history (46 s and 8 s
    # under mutmut's trampolines, per surviving mutant); the stream tests below cover the
    # same comparisons on smaller streams.
    Module(
        "features",
        (
            *(
                f"features/{m}.py"
                for m in (
                    "aggregates",
                    "batch",
                    "event_time",
                    "labels",
                    "memory_store",
                    "offline",
                    "vectorize",
                )
            ),
            # The feature-state store behind the kernel (moved to store/ with issue 16).
            *(
                f"store/{m}.py"
                for m in ("feature_labels", "feature_state", "feature_protocol", "feature_writes")
            ),
        ),
        (
            *(
                f"tests/features/test_features.py::test_{t}"
                for t in (
                    "duplicates_inside_a_new_batch_are_recorded_once",
                    "hand_computed_windows",
                    "label_features_by_hand",
                    "late_events_are_counted_where_possible_and_reported",
                    "script_equals_plain_recomputation",
                    "memory_per_entity_is_bounded",
                    "one_big_batch_with_late_events_matches_the_offline_engine",
                    "batch_size_changes_neither_results_nor_state",
                    "a_batch_is_three_round_trips_of_one_key_commands",
                    "a_corrupt_state_fails_the_batch_before_anything_is_written",
                    "the_async_and_in_memory_stores_give_the_sync_stores_values",
                    "a_label_whose_event_is_recorded_meanwhile_still_counts",
                    "a_label_given_again_writes_no_state",
                )
            ),
            "tests/store/test_feature_store_races.py",
            "tests/store/test_feature_labels.py",
            "features/",
            *(
                f"store/{m}.py"
                for m in ("feature_labels", "feature_state", "feature_protocol", "feature_writes")
            ),
        ),
        services=("redis",),
    ),
    # The API's access checks: keys, roles, account binding, the audit of key changes.
    Module(
        "api-access",
        ("store/api_keys.py", "api/lookup.py"),
        (
            "tests/api/test_api_access.py",
            "tests/api/test_api_lookup.py",
            "tests/api/test_api_keystore.py",
            *(
                f"tests/api/test_api_security.py::test_{t}"
                for t in (
                    "a_hash_planted_in_redis_does_not_make_a_key",
                    "keys_stored_before_the_pepper_are_migrated_and_keep_working",
                    "another_pepper_refuses_the_keys",
                    "an_account_bound_admin_cannot_use_the_global_routes",
                    "the_last_unbound_admin_key_cannot_be_revoked_through_the_api",
                )
            ),
            "tests/api/test_api_operations.py::test_more_than_the_rate_per_key_is_429_with_retry_after_shared_by_processes",
            "store/api_keys.py",
            "api/lookup.py",
        ),
        services=("redis", "kafka"),
    ),
    # The event decoder only: the rest of pipeline/ (decision store, label learning,
    # scoring) is tested against the embedded Kafka and Redis, which a mutant would restart.
    Module(
        "pipeline-decode",
        ("pipeline/decode.py",),
        ("tests/pipeline/test_decode.py", "tests/pipeline/test_decode_versions.py", "pipeline/decode.py"),
    ),
    # Label learning, its compare-and-set checkpoint and the decision record's shapes, against
    # one shared Redis and Kafka. Not mutated yet: pipeline/scoring.py (about 460 mutants,
    # more than fit in the run's time on 2 shared cores; store/decisions.py is the
    # store-decisions module below), pipeline/factory.py
    # (wiring from settings), pipeline/replay.py and pipeline/online_follower.py (their tests
    # run a whole replay or worker). The retraining-command test is left out: the command
    # it starts outlives the test, and mutmut 3.7 then reaps a pid it does not know and stops.
    Module(
        "pipeline",
        ("pipeline/label_learning.py", "store/online_checkpoint.py", "pipeline/record_shapes.py"),
        (
            "tests/stream/test_handler.py",
            "tests/pipeline/test_label_learning.py",
            *(
                f"tests/stream/test_label_handler.py::test_{t}"
                for t in (
                    "bad_labels_go_to_dlq_and_good_ones_are_learned_with_their_offsets",
                    "a_batch_that_cannot_be_learned_is_parked_on_dlq_not_crash_looped",
                    "an_outage_is_raised_for_the_worker_to_retry",
                    "a_detected_drift_goes_to_alerts",
                )
            ),
            "tests/security/test_pending_labels.py",
            "tests/pipeline/test_record_shapes.py",
            "tests/api/test_api_decisions.py",
            "pipeline/",
            "store/online_checkpoint.py",
        ),
        services=("redis", "kafka"),
    ),
    # The language (lexer, parser, compiler, attributes) and the backtest.
    Module(
        "rules",
        tuple(f"rules/{m}.py" for m in ("attributes", "backtest", "compiler", "errors", "lexer", "parser")),
        (
            "tests/rules/test_rules_eval.py",
            "tests/rules/test_rules_syntax.py",
            "tests/rules/test_rules_backtest.py",
            "tests/rules/test_rules_errors.py",
            "rules/",
        ),
    ),
    # The Redis-backed rule store and the worker's live rules, against one shared Redis.
    Module(
        "rules-store",
        ("store/rules.py", "pipeline/live_rules.py"),
        ("tests/rules/test_rules_store.py", "store/rules.py", "pipeline/live_rules.py"),
        services=("redis",),
    ),
    # Decision records, their indexes and the review queues (one Redis; the cluster halves of
    # the store tests are left to `make test`: each would start a 3-master cluster per mutant).
    Module(
        "store-decisions",
        ("store/decisions.py",),
        (
            *(
                f"tests/store/test_cluster_stores.py::test_{t}[single]"
                for t in (
                    "put_new_new_redelivered_and_other_accounts_events",
                    "an_event_without_account_and_a_bound_accounts_event_are_two_events",
                    "a_store_without_indexes_keeps_the_records_only",
                    "a_worker_killed_while_indexing_new_records_leaves_them_to_the_redelivery",
                    "a_record_stored_before_a_crash_is_indexed_when_redelivered",
                    "reviews_move_between_queues_with_their_audit_entries",
                    "records_of_many_slots_are_read_together",
                    "a_redelivered_record_is_found_by_its_card_customer_and_merchant",
                )
            ),
            "tests/security/test_at_rest.py",
            "tests/api/test_api_decisions.py",
            "tests/api/test_api_reviews.py",
            "tests/api/test_api_rules.py",
            "store/decisions.py",
        ),
        services=("redis", "kafka"),
    ),
)


def _source_roots(mod: Module) -> list[str]:
    return sorted({glob.split("/")[0] for glob in mod.mutate})


def _pyproject(mod: Module) -> str:
    """The copy's pyproject: the project's own, with this module's [tool.mutmut]."""
    text = (ROOT / "pyproject.toml").read_text()
    # Drop the project's own (default) [tool.mutmut] table, up to the next table.
    before, _, after = text.partition("\n[tool.mutmut]\n")
    rest = after[after.find("\n[") :] if "\n[" in after else ""
    conf = {
        "source_paths": _source_roots(mod),
        "only_mutate": list(mod.mutate),
        "do_not_mutate": ["features/kernel.py", "*/__init__.py"],
        "also_copy": [p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()],
        "pytest_add_cli_args_test_selection": list(mod.tests),
        "pytest_add_cli_args": ["-x", "-q", "-p", "no:cacheprovider", "-p", "tools.mutmut_compat"],
    }
    lines = ["[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in conf.items()]
    return before + rest + "\n\n" + "\n".join(lines) + "\n"


def _prepare(mod: Module) -> Path:
    """A fresh copy of the tracked tree (plus this working tree's edits) for one module."""
    dest = WORK / mod.name
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / "pyproject.toml").write_text(_pyproject(mod))
    return dest


def _mutmut() -> str:
    return str(Path(sys.executable).with_name("mutmut"))


@contextmanager
def _shared_services(mod: Module, dest: Path) -> Iterator[dict[str, str]]:
    """The module's embedded servers for its whole run, as the tests' environment names them."""
    if not mod.services:
        yield {}
        return
    from embedded import EmbeddedServices  # the project's own; imported only when needed

    with EmbeddedServices(
        workdir=dest / "services", with_redis="redis" in mod.services, with_kafka="kafka" in mod.services
    ) as running:
        env = {"RISKWIRE_TEST_REDIS_URL": running.redis_url} if "redis" in mod.services else {}
        if "kafka" in mod.services:
            env["RISKWIRE_TEST_KAFKA_BOOTSTRAP"] = running.kafka_bootstrap
        yield env


def run(mod: Module, children: int, timeout_s: float | None) -> float:
    dest = _prepare(mod)
    start = time.monotonic()
    with _shared_services(mod, dest) as shared:
        env = {**os.environ, "PYTHONPATH": str(dest), "PYTHONHASHSEED": "0", **shared}
        # The tests' model, trained by the first pytest session (mutmut's stats run) only.
        env["RISKWIRE_TEST_MODEL_DIR"] = str(dest / "test-model")
        code = _mutmut_run(mod, dest, env, children, timeout_s)
    took = time.monotonic() - start
    if code != 0:
        log_path = dest / "mutmut-run.log"
        print(f"{mod.name}: mutmut ended with {code}; see {log_path}", file=sys.stderr)
    (dest / "took").write_text(f"{took:.0f}")
    return took


def _mutmut_run(mod: Module, dest: Path, env: dict[str, str], children: int, timeout_s: float | None) -> int:
    # nice: the machine is shared; mutmut forks one pytest per mutant.
    cmd = ["nice", "-n", "10", _mutmut(), "run", "--max-children", str(children)]
    with (dest / "mutmut-run.log").open("w") as log:
        # Own session: a timeout stops mutmut and the pytest children it forked, together.
        proc = subprocess.Popen(
            cmd, cwd=dest, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            code = proc.wait()
            print(f"{mod.name}: stopped after {timeout_s:.0f}s; the rest is unchecked", file=sys.stderr)
    return code


def results(mod: Module) -> dict[str, str]:
    """Mutant name → status, as mutmut records it for the module's last run."""
    dest = WORK / mod.name
    if not (dest / "mutants").exists():
        return {}
    proc = subprocess.run(
        [_mutmut(), "results", "--all", "true"], cwd=dest, capture_output=True, text=True, check=False
    )
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            out[name] = status
    return out


def equivalents() -> dict[str, str]:
    data = tomllib.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    return {str(k): str(v) for k, v in data.get("equivalent", {}).items()}


def report(mods: list[Module]) -> bool:
    eq = equivalents()
    ok = True
    rows = []
    survivors: list[str] = []
    for mod in mods:
        res = results(mod)
        took_file = WORK / mod.name / "took"
        took = took_file.read_text() + "s" if took_file.exists() else "-"
        listed = [n for n in res if n in eq]
        counted = {n: s for n, s in res.items() if n not in eq}
        killed = sum(1 for s in counted.values() if s in KILLED)
        # A run cut short leaves mutants "not checked": shown, but not counted as survivors.
        unchecked = sum(1 for s in counted.values() if s == "not checked")
        counted = {n: s for n, s in counted.items() if s != "not checked"}
        other = {n: s for n, s in counted.items() if s not in KILLED}
        survivors += [f"{n}: {s}" for n, s in sorted(other.items())]
        rate = killed / len(counted) if counted else 0.0
        ok &= bool(counted) and rate >= TARGET
        rows.append((mod.name, len(res), killed, len(other), len(listed), unchecked, f"{rate:.1%}", took))
    head = ("module", "mutants", "killed", "survived", "equivalent", "unchecked", "kill rate", "took")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    if survivors:
        print("\nsurviving mutants (`cd var/mutate/<module> && mutmut show <name>`):")
        print("\n".join("  " + s for s in survivors))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="core modules to run (default: all)")
    parser.add_argument("--report", action="store_true", help="only print the table of the last runs")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per module at most")
    args = parser.parse_args(argv)
    by_name = {m.name: m for m in MODULES}
    unknown = [n for n in args.modules if n not in by_name]
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {sorted(by_name)}")
    mods = [by_name[n] for n in args.modules] or list(MODULES)
    if not args.report:
        for mod in mods:
            took = run(mod, args.children, args.timeout)
            print(f"{mod.name}: {took:.0f}s", file=sys.stderr)
    return 0 if report(mods) else 1


if __name__ == "__main__":
    sys.exit(main())
