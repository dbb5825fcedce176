"""The windows spec (``features.windows``) is the one declaration (issue 16, item 3).

The catalogue, the raw aggregate layout, the kernel's tables and its state codec derive
theirs from it: the first tests check the derived tables against the spec, the last ones
that no second declaration creeps into the modules that read it (a window name standing
alone, a bucket size or the cap written out) or into the Lua scripts. The test oracles
(``tests/features/features_reference.py``, ``tests/features/features_twin_v1.py``) keep their own windows on
purpose: they are independent references, not production code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from contracts.records import ENTITY_KINDS
from features import aggregates, catalogue
from features import windows as spec
from features.kernel import LAYOUT
from features.kernel_states import DAY

ROOT = Path(__file__).resolve().parents[2]


def test_the_spec_is_consistent() -> None:
    assert spec.ENTITIES == ENTITY_KINDS
    assert tuple(sorted(spec.RESOLUTIONS)) == spec.RESOLUTIONS
    assert len({w.name for w in spec.WINDOWS}) == len(spec.WINDOWS)
    for w in spec.WINDOWS:
        assert w.bucket_ms in spec.RESOLUTIONS
    # The distinct values and the label entries are kept in day lists.
    for name in (*spec.DISTINCT_WINDOWS, *spec.LABEL_WINDOWS):
        assert spec.WINDOW[name].length_ms % DAY == 0
    assert set(spec.LABELLED) | set(spec.FIRST_SEEN) | {d.entity for d in spec.DISTINCT} <= set(spec.ENTITIES)


def test_the_catalogue_reads_the_spec() -> None:
    assert {w.name: (w.length_ms, w.bucket_ms) for w in spec.WINDOWS} == catalogue.WINDOWS
    assert {w.name: w.spoken for w in spec.WINDOWS} == catalogue.SPOKEN
    assert [str(e) for e in catalogue.COUNTED] == list(spec.COUNTED)
    lengths = {(w.length_ms, w.bucket_ms) for w in spec.WINDOWS}
    for f in catalogue.FEATURES:
        if f.window_ms is not None:
            assert (f.window_ms, f.bucket_ms) in lengths, f.name
    names = set(catalogue.FEATURE_NAMES)
    for d in spec.DISTINCT:
        assert {f"{d.entity}_distinct_{d.what}_{w}" for w in spec.DISTINCT_WINDOWS} <= names
    for e in spec.LABELLED:
        assert {f"{e}_fraud_count_{w}" for w in spec.LABEL_WINDOWS} <= names
    assert {f"{e}_seconds_since_first" for e in spec.FIRST_SEEN} <= names
    assert sum("_distinct_" in n for n in names) == len(spec.DISTINCT) * len(spec.DISTINCT_WINDOWS)


def test_the_raw_layout_reads_the_spec() -> None:
    assert aggregates.COUNTED == spec.COUNTED
    assert tuple((w.name, w.bucket_ms, w.buckets) for w in spec.WINDOWS) == aggregates.WINDOWS
    assert tuple((d.name, d.entity) for d in spec.DISTINCT) == aggregates.DISTINCT
    assert aggregates.DISTINCT_CAP == spec.DISTINCT_CAP
    counted = len(spec.COUNTED) * len(spec.WINDOWS) * 2
    distinct = len(spec.DISTINCT) * len(spec.DISTINCT_WINDOWS)
    labels = len(spec.LABELLED) * len(spec.LABEL_WINDOWS)
    assert counted + 2 + len(spec.FIRST_SEEN) + distinct + labels + 2 == aggregates.AGGREGATE_COUNT


def test_the_kernel_tables_read_the_spec() -> None:
    raw = aggregates.RAW_INDEX
    assert LAYOUT.res.tolist() == list(spec.RESOLUTIONS)
    assert LAYOUT.keep.tolist() == list(spec.KEEP)
    assert LAYOUT.win_buckets.tolist() == [w.buckets for w in spec.WINDOWS]
    assert [spec.RESOLUTIONS[r] for r in LAYOUT.win_res] == [w.bucket_ms for w in spec.WINDOWS]
    assert LAYOUT.dist_days.tolist() == [spec.WINDOW[w].days for w in spec.DISTINCT_WINDOWS]
    assert LAYOUT.label_days.tolist() == [spec.WINDOW[w].days for w in spec.LABEL_WINDOWS]
    assert LAYOUT.cols[1] == spec.DISTINCT_CAP and LAYOUT.cols[0] == aggregates.AGGREGATE_COUNT
    # Every raw column but history/late is written by exactly one table entry.
    written = [
        *LAYOUT.count_col.ravel(), *LAYOUT.units_col.ravel(), *LAYOUT.first_col, *LAYOUT.dist_col.ravel(),
        *LAYOUT.fraud_col.ravel(), *LAYOUT.cols[[5, 7, 8, 9]],
    ]  # fmt: skip
    written = sorted(int(c) for c in written if c >= 0)
    assert written == list(range(aggregates.AGGREGATE_COUNT))
    for k, e in enumerate(spec.ENTITIES):
        assert LAYOUT.first_col[k] == raw.get(f"{e}_first_ms", -1)
        assert (LAYOUT.fraud_col[k] >= 0).all() == (e in spec.LABELLED)
    assert all(isinstance(a, np.ndarray) and a.dtype == np.int64 for a in LAYOUT)


# Standalone window names (not inside a feature name) and bucket sizes: declarations.
_WINDOW_NAMES = {w.name for w in spec.WINDOWS}
_SIZES = {*spec.RESOLUTIONS, *(w.length_ms for w in spec.WINDOWS), spec.DISTINCT_CAP}
#: Modules that must read the spec, not restate it.
_READERS = (
    *(f"features/{m}.py" for m in ("catalogue", "aggregates", "offline", "batch", "kernel", "kernel_states")),
    "features/vectorize.py",
    "api/console/normals.py",
)


def _constants(path: Path) -> list[tuple[int, object]]:
    tree = ast.parse(path.read_text())
    skip = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in skip]


def test_no_second_declaration_in_the_readers() -> None:
    found = []
    for name in _READERS:
        for line, value in _constants(ROOT / name):
            if isinstance(value, bool):
                continue
            if (isinstance(value, str) and value in _WINDOW_NAMES) or (
                isinstance(value, int) and value in _SIZES
            ):
                found.append(f"{name}:{line}: {value!r}")
    assert found == [], "declare windows, sizes and caps in features/windows.py only"


def test_the_lua_scripts_hold_no_window() -> None:
    scripts = sorted((ROOT / "store" / "lua").glob("*.lua"))
    assert scripts, "no Lua scripts found: where did store/lua go?"
    for script in scripts:
        text = script.read_text()
        for size in _SIZES - {spec.DISTINCT_CAP}:
            assert str(size) not in text, script.name
        for name in _WINDOW_NAMES:
            assert f"'{name}'" not in text and f'"{name}"' not in text, script.name
