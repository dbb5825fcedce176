"""No import cycles, no arrows back up (issue 16, item 4).

The import graph of the production packages is read from their source (``ast``): every
``import`` counts, at module level or inside a function, except those under
``if TYPE_CHECKING:`` (they never run). ``from package import name`` is an edge to the
submodule when ``name`` is one, else to the package's ``__init__``; importing a submodule
is not counted as importing its parent package's ``__init__`` (Python runs it first, but it
does not depend on it).

The layers, lowest first; a module may import its own package and the packages of lower
layers only, never a package of its own layer or above:

0. ``contracts``: the records, the settings and the events' identities everything speaks;
1. ``simulator``, ``evaluation`` (metrics over decision records; imports no riskwire package);
2. ``features`` (the catalogue, the kernel, the in-memory twins);
3. ``explain``, ``rules``, ``models``: each reads the features, none reads another;
4. ``store``: every Redis layout (the feature states behind the kernel, rules compiled
   before they are stored, decisions, reviews, keys, audit, the online checkpoint);
5. ``pipeline``: scoring, deciding, recording; ``embedded`` (the in-process broker and
   Redis, probed through the store's clients) beside it;
6. ``stream`` (the worker) and ``api`` (the service), side by side;
7. ``cli``: the ``riskwire`` command over all of them;
8. ``bench`` and ``tools``: development programs, not packaged; the bench drives the CLI
   as child processes (``python -m cli …``), it does not import it.

Within a package only the no-cycle rule applies; ``models.registry`` (storage) is checked
apart: it imports no model (``models.loading`` does the loading).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"contracts"}),
    frozenset({"simulator", "evaluation"}),
    frozenset({"features"}),
    frozenset({"explain", "rules", "models"}),
    frozenset({"store"}),
    frozenset({"pipeline", "embedded"}),
    frozenset({"stream", "api"}),
    frozenset({"cli"}),
    frozenset({"bench", "tools"}),
)
LAYER = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}

#: Known cycles and back-arrows, each with the reason it is tolerated for now; empty since
#: the registry/model cycle and the `riskwire bench` → bench → cli.keys loop were removed.
#: An entry is a ``(importer, imported)`` module pair, e.g.
#: ``("pipeline.scoring", "stream.app"),  # LiveState moves into pipeline/ (issue …)``.
ALLOWED: frozenset[tuple[str, str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in LAYER:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The riskwire modules ``module`` imports (outside ``if TYPE_CHECKING:``)."""
    out: set[str] = set()

    def add(target: str) -> None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != module:
            out.add(target)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for stmt in child.orelse:
                    visit_one(stmt)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                add(sub if sub in modules else target)
        visit(node)

    visit(ast.parse(path.read_text()))
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(m, p, modules) - {b for a, b in ALLOWED if a == m} for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_graph_sees_function_level_imports() -> None:
    graph = _graph()
    assert "models.registry" in graph["models.batch_model"]
    assert "bench.api_lookup" in graph["bench.__main__"]  # imported inside main()
    # A cycle through a function-level import is found.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_imports_run_down_the_layers_only() -> None:
    wrong = []
    for module, imported in _graph().items():
        own = module.split(".")[0]
        for target in imported:
            pkg = target.split(".")[0]
            if pkg != own and LAYER[pkg] >= LAYER[own]:
                wrong.append(f"{module} → {target} (layer {LAYER[own]} → {LAYER[pkg]})")
    assert sorted(wrong) == []


def test_the_registry_keeps_storage_only() -> None:
    graph = _graph()
    assert {m for m in graph["models.registry"] if m.startswith("models.")} <= {"models.errors"}
    assert {"models.batch_model", "models.learner", "models.registry"} <= graph["models.loading"]


def test_the_bench_does_not_import_the_cli_nor_the_cli_the_bench() -> None:
    graph = _graph()
    assert not any(t.startswith("cli") for m, ts in graph.items() if m.startswith("bench") for t in ts)
    assert not any(t.startswith("bench") for m, ts in graph.items() if m.startswith("cli") for t in ts)
