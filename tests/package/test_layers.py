"""Imports point down the layers of ``stepreward._layers.LAYERS``, and never around a loop.

The graph is read from the source with ``ast``: imports at module level, inside functions and
under ``TYPE_CHECKING``, relative ones resolved, ``importlib.import_module("...")`` with a
literal name, and the package ``__init__`` that importing a submodule runs first (importing
``stepreward.scoring._parse`` runs ``stepreward/scoring/__init__.py``). The checker is tried on
small packages that break each rule, so a passing run on ``src/stepreward`` means something.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from stepreward._layers import LAYERS, ROOT, layer_of

SRC = Path(__file__).resolve().parents[2] / "src"

Layers = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Edge:
    importer: str
    target: str
    where: str  # file:line of the import
    implicit: bool = False  # the package __init__ that importing a submodule runs


def modules_of(src: Path, root: str) -> dict[str, Path]:
    """Dotted name -> file of every module of the package ``root`` under ``src``."""
    out = {}
    for path in sorted((src / root).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported_names(node: ast.AST, package: str) -> list[str]:
    """Dotted names one import statement (or import_module call) may load."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        return [module] + [f"{module}.{a.name}" for a in node.names]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__"):
            return [node.args[0].value]
    if isinstance(node, ast.Call) and len(node.args) == 2 and isinstance(node.args[1], ast.Dict):
        # lazy_exports(__name__, {"module": [names]}): each module is imported on first use.
        func = node.func
        if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) == \
                "lazy_exports":
            return [k.value for k in node.args[1].keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return []


def import_edges(src: Path, root: str) -> tuple[dict[str, Path], list[Edge]]:
    """Every module of the package and every import edge between two of its modules."""
    modules = modules_of(src, root)
    edges = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own_ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = _imported_names(node, package)
            if not names:
                continue
            where = f"{path.relative_to(src)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom):
                # `from a import b`: the module a.b when there is one, else a itself.
                module, members = names[0], names[1:]
                found = [m for m in members if m in modules] or [module]
            else:
                found = names
            for full in found:
                if full != root and not full.startswith(root + "."):
                    continue
                target = full
                while target not in modules and "." in target:
                    target = target.rpartition(".")[0]
                if target != name:
                    edges.append(Edge(name, target, where))
                # Importing a.b.c runs a.b's __init__ first: a dependency like any other,
                # except on the importer's own packages, which are always loaded before it.
                parts = target.split(".")
                for i in range(2, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent not in own_ancestors and parent != name:
                        edges.append(Edge(name, parent, where, implicit=True))
    return modules, edges


def _cycles(modules: dict[str, Path], edges: list[Edge]) -> list[tuple[list[str], list[str]]]:
    """Each strongly connected component: its modules, and one loop through the first."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges:
        own = e.importer.startswith(e.target + ".")  # a module importing its own package
        if not own:
            graph[e.importer].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the package is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    loops = []
    for comp in components:  # a shortest loop through the component's first module
        members, start = set(comp), comp[0]
        paths = {start: [start]}
        queue = [start]
        while queue:
            v = queue.pop(0)
            for w in sorted(graph[v] & members):
                if w == start:
                    loops.append((comp, paths[v] + [start]))
                    queue = []
                    break
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    queue.append(w)
    return loops


def problems(src: Path, root: str = ROOT, layers: Layers = LAYERS) -> list[str]:
    """Every breach of the layer rules in the package ``root`` under ``src``, one line each."""
    modules, edges = import_edges(src, root)
    out = [f"{m} is in no layer of the LAYERS table" for m in modules
           if layer_of(m, layers, root) is None]
    for e in edges:
        low, high = layer_of(e.importer, layers, root), layer_of(e.target, layers, root)
        if low is not None and high is not None and high > low:
            how = " (its package __init__)" if e.implicit else ""
            out.append(f"upward import at {e.where}: {e.importer} ({layers[low][0]}) imports "
                       f"{e.target}{how} ({layers[high][0]})")
    for comp, loop in _cycles(modules, edges):
        among = f" (all of {', '.join(comp)} are on loops)" if len(comp) > len(loop) - 1 else ""
        out.append("import cycle: " + " -> ".join(loop) + among)
    return out


def test_stepreward_imports_point_down_and_never_loop() -> None:
    found = problems(SRC)
    assert not found, "\n".join(found)


def test_the_graph_is_read_from_the_real_source() -> None:
    # Guards the check against passing because it reads nothing.
    modules, edges = import_edges(SRC, ROOT)
    pairs = {(e.importer, e.target) for e in edges}
    assert len(modules) > 50 and len(pairs) > 150
    assert ("stepreward.scoring._score", "stepreward.questions._kinds") in pairs  # module level
    assert ("stepreward.synth._model", "stepreward.scoring._score") in pairs  # in a function
    assert ("stepreward.sandbox._ray", "stepreward.sandbox._pool") in pairs
    assert ("stepreward.codegen._child", "stepreward.sandbox") in pairs  # package __init__
    assert all(layer_of(m) is not None for m in modules)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / "fake" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


FAKE_LAYERS: Layers = (("low", ("fake.low",)), ("high", ("fake.high", "fake.mid")),
                       ("facade", ("fake",)))


def test_an_upward_import_is_reported_wherever_it_hides(tmp_path: Path) -> None:
    src = _package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/eager.py": "from fake.high import thing\n",
        "low/lazy.py": "def f():\n    from ..high import thing\n    return thing\n",
        "low/typed.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from fake.mid.deep import Thing
            """,
        "low/dynamic.py": "import importlib\nm = importlib.import_module('fake.high')\n",
        "low/exported.py": "from x import lazy_exports\n"
                           "__getattr__, _ = lazy_exports(__name__, {'fake.high': ['thing']})\n",
        "low/facade.py": "import fake\n",
        "low/ok.py": "from . import eager\nfrom fake.low.lazy import f\n",
        "low/base.py": "",
        "high.py": "thing = 1\nfrom fake.low import base\n",  # down: allowed
        "mid/__init__.py": "",
        "mid/deep.py": "class Thing: ...\n",
    })
    found = problems(src, "fake", FAKE_LAYERS)
    upward = sorted(p.split(": ", 1)[1].split(" (")[0] for p in found if "upward" in p)
    assert upward == ["fake.low.dynamic", "fake.low.eager", "fake.low.exported",
                      "fake.low.facade", "fake.low.lazy", "fake.low.typed", "fake.low.typed"], \
        found  # typed: deep, and mid's init
    assert any("fake.low.typed (low) imports fake.mid (its package __init__) (high)" in p
               for p in found)
    assert not any("cycle" in p for p in found)


def test_a_cycle_is_reported_even_inside_one_layer(tmp_path: Path) -> None:
    src = _package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "from . import b\n",
        "low/b.py": "def g():\n    from .a import x\n",
    })
    assert problems(src, "fake", FAKE_LAYERS) == ["import cycle: fake.low.a -> fake.low.b -> "
                                                  "fake.low.a"]


def test_a_cycle_through_a_package_init_is_reported(tmp_path: Path) -> None:
    # A module imports a submodule of a package whose __init__ imports a module that imports
    # the first one back: a loop, though no two modules name each other.
    src = _package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/kinds.py": "def grade():\n    from fake.low.scoring.gate import check\n",
        "low/scoring/__init__.py": "from fake.low.scoring.score import score\n",
        "low/scoring/gate.py": "def check(): ...\n",
        "low/scoring/score.py": "from fake.low.kinds import grade\n",
    })
    assert problems(src, "fake", FAKE_LAYERS) == [
        "import cycle: fake.low.kinds -> fake.low.scoring -> fake.low.scoring.score -> "
        "fake.low.kinds"]


def test_a_module_outside_the_table_is_reported(tmp_path: Path) -> None:
    src = _package(tmp_path, {"__init__.py": "", "stray.py": ""})
    assert problems(src, "fake", FAKE_LAYERS) == ["fake.stray is in no layer of the LAYERS table"]


@pytest.mark.parametrize("module, layer", [
    ("stepreward", "facade"), ("stepreward.types", "types and values"),
    ("stepreward.sandbox", "sandbox"), ("stepreward.sandbox._ray", "sandbox"),
    ("stepreward.integrations.openrlhf.server", "integrations"), ("stepreward.cli", "cli"),
])
def test_layer_of_names_the_longest_match(module: str, layer: str) -> None:
    index = layer_of(module)
    assert index is not None and LAYERS[index][0] == layer
    assert layer_of("stepreward_other") is None and layer_of("elsewhere") is None


def test_lower_layers_load_without_the_higher_ones() -> None:
    # The static graph above, seen from a fresh interpreter: grading loads nothing of synth,
    # the reward entry no adapter, and the base Sandbox no Ray backend until one is asked for.
    import subprocess
    import sys

    code = textwrap.dedent("""
        import sys
        import stepreward.scoring._score, stepreward.sandbox._pool, stepreward.rewards
        import stepreward.rows
        loaded = sorted(m for m in sys.modules if m.startswith(("stepreward.synth",
                        "stepreward.sandbox._ray", "stepreward.integrations", "stepreward.cli")))
        assert not loaded, loaded
        import stepreward as sr
        assert type(sr.Sandbox.__new__(sr.Sandbox, backend="ray")).__name__ == "RaySandbox"
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_architecture_doc_lists_the_layers_of_the_table() -> None:
    doc = (SRC.parent / "docs" / "architecture.md").read_text()
    rows = [line.split("|")[1:4] for line in doc.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    assert [(int(n), name.strip()) for n, name, _ in rows] == \
        [(i, name) for i, (name, _) in enumerate(LAYERS)]
    for (_, _, cell), (_, names) in zip(rows, LAYERS, strict=True):
        cells = [m.strip().strip("`").rstrip("/") for m in cell.split(",")]
        listed = {ROOT if m == f"{ROOT}/__init__.py" else f"{ROOT}.{m.replace('/', '.')}"
                  for m in cells}
        assert listed == set(names), (cell, names)
