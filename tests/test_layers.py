"""The architecture's rules, checked on the source (docs/architecture.md#layers).

- imports inside ``src/crmsync`` point down the layers and form no cycle (lazy imports inside
  functions count; imports under ``if TYPE_CHECKING:`` do not, they never run);
- the plugins under ``plugins/`` import only ``crmsync`` and ``crmsync.testing``;
- no module passes 400 lines (Alembic revisions, which are history, excepted).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PLUGINS = ROOT / "plugins"

#: Lowest first. A module may import its own layer or any layer below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("crmsync.core",),
    ("crmsync.store",),
    ("crmsync.plugin", "crmsync"),
    ("crmsync.sync", "crmsync.metrics"),
    ("crmsync.writeback",),
    ("crmsync.orchestration", "crmsync.testing"),
    ("crmsync.api",),
    ("crmsync.cli", "crmsync.dashboard"),
)
PLUGIN_API = ("crmsync", "crmsync.testing")
MAX_LINES = 400


def layer_of(module: str) -> int:
    """The rank of ``module``: the layer of its longest matching prefix."""
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and to "
                             "docs/architecture.md")
    return rank


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(source: str, module: str, *, is_package: bool,
               runtime_only: bool = True) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every ``crmsync…`` import in ``source``; a name
    imported from a package counts as its submodule when it is one (resolved by the caller)."""
    tree = ast.parse(source)
    skip = _type_checking_lines(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno
                yield target, node.lineno


def host_modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "crmsync").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, dict[str, int]]:
    """Module → {imported host module: line} (names resolved to modules where they are)."""
    modules = host_modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        pending: dict[int, list[str]] = {}
        for target, line in imports_of(path.read_text(encoding="utf-8"), name,
                                       is_package=path.name == "__init__.py"):
            if target.startswith("crmsync") and target != name:
                pending.setdefault(line, []).append(target)
        for line, targets in pending.items():
            # ``from a.b import c``: the edge is a.b.c when that is a module, else a.b
            submodules = [t for t in targets if t in modules]
            chosen = [t for t in submodules if not any(o != t and o.startswith(t + ".")
                                                       for o in submodules)]
            for t in chosen:
                if t != name:
                    edges.setdefault(t, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
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

    for v in graph:
        if v not in index:
            visit(v)
    return found


def upward(graph: dict[str, dict[str, int]]) -> list[str]:
    return [f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)}) "
            f"on line {line}"
            for src, edges in sorted(graph.items()) for dst, line in sorted(edges.items())
            if layer_of(dst) > layer_of(src)]


# -- the rules ---------------------------------------------------------------------------------


def test_the_host_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers() -> None:
    assert upward(import_graph()) == []


def test_every_host_module_belongs_to_a_layer() -> None:
    for name in host_modules():
        layer_of(name)


def plugin_violations() -> list[str]:
    out = []
    for path in sorted(PLUGINS.rglob("*.py")):
        rel = path.relative_to(PLUGINS)
        module = ".".join(rel.with_suffix("").parts)
        for target, line in imports_of(path.read_text(encoding="utf-8"), module,
                                       is_package=path.name == "__init__.py",
                                       runtime_only=False):
            root = target.split(".")[0]
            if root != "crmsync":
                continue
            if target in PLUGIN_API or any(target.startswith(p + ".")
                                           for p in ("crmsync.testing",)):
                continue
            # ``from crmsync import X`` yields "crmsync.X" too: a name, not a module
            if target.count(".") == 1 and target.split(".")[1] not in _HOST_SUBPACKAGES:
                continue
            out.append(f"{rel}:{line} imports {target}")
    return sorted(set(out))


_HOST_SUBPACKAGES = {p.split(".")[1] for p in host_modules() if p.count(".") >= 1}


def test_plugins_import_only_the_public_plugin_api() -> None:
    assert plugin_violations() == []


def test_no_module_passes_400_lines() -> None:
    long = []
    for base in (SRC, PLUGINS):
        for path in base.rglob("*.py"):
            if "migrations/versions" in path.as_posix():
                continue
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert long == []


# -- the checks can fail -----------------------------------------------------------------------


def test_a_cycle_and_an_upward_import_are_found() -> None:
    graph = {"crmsync.core.a": {"crmsync.store.b": 3}, "crmsync.store.b": {"crmsync.core.a": 7}}
    assert cycles(graph) == [["crmsync.core.a", "crmsync.store.b"]]
    assert upward(graph) == ["crmsync.core.a (layer 0) imports crmsync.store.b (layer 1) "
                             "on line 3"]


def test_lazy_imports_count_and_type_checking_imports_do_not() -> None:
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from crmsync.api import sync\n"
              "def f():\n    from crmsync.cli import main\n")
    found = {t for t, _ in imports_of(source, "crmsync.core.x", is_package=False)}
    assert "crmsync.cli" in found
    assert "crmsync.api" not in found


def test_an_unknown_module_has_no_layer() -> None:
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("elsewhere.module")
