"""The import graph of vsrkit points down the layers and has no cycles.

Every ``import`` / ``from ... import`` of a vsrkit module is read with :mod:`ast` from every file of the package,
including imports inside functions (lazy imports still tie the modules together) but not those under
``if TYPE_CHECKING:`` (never executed). A module may import its own layer or a lower one, never a higher one, and no
set of modules may import each other in a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vsrkit"

# The layer order, lowest first, written once. A module belongs to the layer of the longest prefix that names it
# (``vsrkit.engine.recipes.fmanet`` is in the recipes layer, ``vsrkit.engine.infer`` in the engine layer).
LAYERS: list[tuple[str, ...]] = [
    ("vsrkit", "vsrkit.errors", "vsrkit.interrupt"),  # the package root: version, error types, stop signals
    ("vsrkit.checkpoint",),  # reading/writing weight files (ops.spynet and models load weights through it)
    ("vsrkit.ops", "vsrkit.io"),  # tensor operations; frame/video/picture I/O
    ("vsrkit.degrade", "vsrkit.metrics"),  # degradation protocols; quality metrics
    ("vsrkit.data",),  # datasets, clips, samples
    ("vsrkit.models", "vsrkit.convert"),  # architectures, their registry, official converters, catalogue
    ("vsrkit.engine",),  # streaming inference, evaluation, export, adaptation, dataset building
    ("vsrkit.engine.recipes", "vsrkit.engine.train"),  # training: the loop and the per-method recipes
    ("vsrkit.cli", "vsrkit.__main__"),  # argument parsing and printing
]

# Known violations that the test forgives, as (importer, imported) edges, for both the layer rule and the cycle check.
# An entry that no longer occurs fails the test, so the list cannot go stale.
ALLOWED: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def import_graph() -> dict[str, set[str]]:
    """module -> the vsrkit modules it imports (at top level or inside functions)."""
    mods = _modules()

    def owner(name: str) -> str:  # vsrkit.io.video.VideoInfo -> vsrkit.io.video
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_nodes(tree)
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(owner(a.name) for a in node.names if a.name.split(".")[0] == "vsrkit")
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] != "vsrkit":
                    continue
                for alias in node.names:  # `from vsrkit.io import atomic` imports the module vsrkit.io.atomic
                    full = f"{source}.{alias.name}"
                    targets.add(full if full in mods else owner(source))
        targets.discard(mod)
        targets.discard("")
        graph[mod] = targets
    return graph


def layer_of(module: str) -> int:
    best, level = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    if level is None:
        raise AssertionError(f"{module} is in no layer: add it (or its package) to LAYERS in {__file__}")
    return level


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _without_allowed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if (m, t) not in ALLOWED} for m, targets in graph.items()}


def test_every_module_has_a_layer():
    for module in import_graph():
        layer_of(module)


def test_imports_point_down():
    graph = _without_allowed(import_graph())
    upward = sorted(f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
                    for m, targets in graph.items() for t in targets if layer_of(t) > layer_of(m))
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycles():
    cycles = _cycles(_without_allowed(import_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_allowlist_is_current():
    graph = import_graph()
    stale = sorted(f"{m} -> {t}" for m, t in ALLOWED if t not in graph.get(m, ()))
    assert not stale, "ALLOWED lists imports that no longer exist (remove them):\n" + "\n".join(stale)


@pytest.mark.parametrize("source, expected", [
    ("from vsrkit.io import atomic", {"vsrkit.io.atomic"}),
    ("from vsrkit.io.video import VideoInfo", {"vsrkit.io.video"}),
    ("def f():\n    import vsrkit.engine.infer", {"vsrkit.engine.infer"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vsrkit.engine.train import Trainer", set()),
])
def test_the_graph_sees_each_kind_of_import(tmp_path, monkeypatch, source, expected):
    """The walker itself: module imports, names from modules, lazy imports; type-only imports are skipped."""
    root = tmp_path / "vsrkit"
    for rel in ["__init__.py", "probe.py", "io/__init__.py", "io/atomic.py", "io/video.py", "engine/__init__.py",
                "engine/infer.py", "engine/train.py"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    (root / "probe.py").write_text(source)
    monkeypatch.setitem(globals(), "PACKAGE", root)
    assert import_graph()["vsrkit.probe"] == expected


def test_a_cycle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
