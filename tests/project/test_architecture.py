"""The package's shape: no import cycles between modules, no module over 400 lines, nothing importing the
analysis folders' internals but the analyses themselves, the report and the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import REPO as ROOT
PACKAGES = ("analyzer", "trainer")
MAX_LINES = 400


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (a package is its __init__)."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of `known` that `path` imports anywhere in it (module level or inside functions); see `import_lines`."""
    return {target for target, _ in import_lines(path, name, known)}


def import_lines(path: Path, name: str, known: set[str]) -> list[tuple[str, int]]:
    """(module of `known`, line) for every import in `path`: at module level, inside functions and inside
    `if TYPE_CHECKING:` blocks alike.

    `from a.b import c` counts as importing a.b.c when that is a module, else a.b; importing a submodule is
    not counted as importing its parent packages (their __init__ files are read on their own), nor are the
    lazy exports of a package's module-level __getattr__."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    lazy_exports = set()  # a package's __getattr__ runs on attribute access, after the package has loaded
    for node in ast.walk(tree):
        if is_package and isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            lazy_exports |= {id(inner) for inner in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in lazy_exports:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.append((f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, node.lineno))
    return sorted({(m, line) for m, line in found if m in known and m != name})


def import_graph(packages=PACKAGES) -> dict[str, set[str]]:
    known = {name: path for package in packages for name, path in modules(package).items()}
    return {name: imported(path, name, set(known)) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a list of nodes, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        stack, path = [(start, iter(sorted(graph[start])))], [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from . import sibling\n    import pkg.other\n")
    assert imported(module, "pkg.m", {"pkg.sibling", "pkg.other", "pkg"}) == {"pkg.sibling", "pkg.other"}


def test_no_import_cycles():
    graph = import_graph()
    assert "analyzer.core.runner" in graph and graph["analyzer.analyses.hessian.compute"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


@pytest.mark.parametrize("package", ["analyzer", "trainer"])
def test_no_module_is_over_400_lines(package):
    long = {name: n for name, path in modules(package).items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_analyses_read_each_other_only_through_the_runner():
    """No analysis folder imports another: what two analyses share sits below them (the Hessian and escape share
    analyzer/curvature/), and a result of another analysis comes through `deps`."""
    graph = import_graph(("analyzer",))
    assert any(name.startswith("analyzer.analyses.escape") and "analyzer.curvature.live" in targets
               for name, targets in graph.items())  # the shared machinery is seen where it is imported
    for name, targets in graph.items():
        if not name.startswith("analyzer.analyses."):
            continue
        own = name.split(".")[2]
        for target in targets:
            if target.startswith("analyzer.analyses.") and target != "analyzer.analyses":
                assert target.split(".")[2] == own, f"{name} imports {target}"


def test_linalg_is_model_independent_algebra():
    """linalg/ reads no run, builds no model and knows no analysis: it imports nothing from io, the analyses, the
    report, the study or the trainer."""
    forbidden = ("analyzer.io", "analyzer.analyses", "analyzer.report", "analyzer.study", "trainer")
    graph = import_graph()
    linalg = {name: targets for name, targets in graph.items() if name.startswith("analyzer.linalg")}
    assert "analyzer.linalg.kernel" in linalg and "analyzer.linalg.gd_dynamics" in linalg
    for name, targets in linalg.items():
        bad = sorted(t for t in targets if t.startswith(forbidden))
        assert not bad, f"{name} imports {bad}"


def test_the_cli_starts_without_torch_matplotlib_or_scipy_special():
    """Loading every registered analysis (what `analyze --help` does) imports none of the slow libraries."""
    import subprocess
    import sys

    code = ("import sys, analyzer.cli.app; from analyzer.core import registry; registry.names(); "
            "print(' '.join(m for m in ('torch', 'matplotlib', 'scipy.special', 'scipy.integrate') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


# The layers, lowest first; a module may import its own layer's package and the layers below it, never one above.
# Packages in one tuple are peers: neither imports the other. A module's layer is its longest listed prefix; the two
# roots ("trainer", "analyzer") match only their own __init__. docs/architecture.md says why each sits where it does.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("trainer", "trainer.errors"),  # the root holds only __version__ (RunWriter is a lazy export)
    ("trainer.settings", "trainer.harmonics", "trainer.optim", "trainer.constructor"),
    ("trainer.config",),
    ("trainer.models",),
    ("trainer.linearized", "trainer.targets"),
    ("trainer.runfile",),
    ("trainer.byo",),
    ("trainer.engines",),
    ("trainer.sweep",),
    ("trainer.cli",),
    ("analyzer.errors",),
    ("analyzer.stats", "analyzer.linalg", "analyzer.bases"),
    ("analyzer.io",),
    ("analyzer.core",),
    ("analyzer.curvature",),  # the Hessian's and escape's shared machinery: live block, routes, cost plan
    ("analyzer.sections",),
    ("analyzer.analyses",),
    ("analyzer.report",),
    ("analyzer.study",),
    ("analyzer.cli",),
    ("analyzer",),  # the notebook API: analyzer.<name>, analyze, open_run
)

# Imports up the stack allowed for now: none. Move shared code down rather than adding one here.
KNOWN_LAYER_EXCEPTIONS: set[tuple[str, str]] = set()


def layer_of(module: str, layers=LAYERS) -> tuple[int, str] | None:
    """(rank, package) of the longest entry of `layers` that `module` is or sits in; None if it is in none."""
    found = None
    for rank, peers in enumerate(layers):
        for package in peers:
            inside = module == package or (package not in PACKAGES and module.startswith(package + "."))
            if inside and (found is None or len(package) > len(found[1])):
                found = (rank, package)
    return found


def layer_violations(graph_lines: dict[str, list[tuple[str, int]]], layers=LAYERS) -> list[str]:
    """'importer -> imported (line N)' for each import of a higher layer, or of a peer package."""
    out = []
    for importer, targets in sorted(graph_lines.items()):
        for target, line in targets:
            (low, own), (high, other) = layer_of(importer, layers), layer_of(target, layers)
            if high > low or (high == low and other != own):
                out.append(f"{importer} -> {target} (line {line})")
    return out


def import_lines_graph(packages=PACKAGES) -> dict[str, list[tuple[str, int]]]:
    known = {name: path for package in packages for name, path in modules(package).items()}
    return {name: import_lines(path, name, set(known)) for name, path in known.items()}


def test_the_layer_check_sees_upward_peer_and_nested_imports():
    layers = (("low",), ("mid", "side"), ("high",))
    graph = {"high.a": [("low.b", 1)], "low.b": [("high.a", 3)], "mid.c": [("side.d", 5), ("mid.e", 6)],
             "mid.e": [], "side.d": [], "mid.deep.f": [("high.a", 9)]}
    assert layer_violations(graph, layers) == ["low.b -> high.a (line 3)", "mid.c -> side.d (line 5)",
                                               "mid.deep.f -> high.a (line 9)"]


def test_every_module_has_a_layer():
    unplaced = sorted(name for package in PACKAGES for name in modules(package) if layer_of(name) is None)
    assert not unplaced, f"add these to LAYERS: {unplaced}"


def test_no_module_imports_a_higher_layer():
    """Counted at every import: module level, inside functions and under `if TYPE_CHECKING:` (a type the code
    names is a dependency too, and none is needed to keep a lower layer lower)."""
    graph = import_lines_graph()
    violations = layer_violations(graph)
    known = {f"{importer} -> {target}" for importer, target in KNOWN_LAYER_EXCEPTIONS}
    unexpected = [v for v in violations if v.rsplit(" (line", 1)[0] not in known]
    assert not unexpected, "imports up the layers:\n" + "\n".join(unexpected)
    stale = known - {v.rsplit(" (line", 1)[0] for v in violations}
    assert not stale, f"no longer imported, remove from KNOWN_LAYER_EXCEPTIONS: {sorted(stale)}"
