"""The package layout is a stack of layers, and imports only point down (README: How it works).

Read from the source with `ast`, so the rule holds for imports inside functions too (the lazy
ones that keep start-up fast): every `import`/`from … import` of a gradcli module is resolved to
its layer and checked against what that layer may use. Module-level imports must also form no
cycle (tape ↔ primitives was one).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gradcli"

# A module's layer: the first folder under gradcli/, or one of the root modules.
BASE = {"gradcli.errors", "gradcli.numfmt", "gradcli.gcpause", "gradcli.span", "gradcli.cachefiles"}
ALLOWED: dict[str, set[str]] = {
    "base": {"base"},
    "engine": {"base", "engine"},
    "language": {"base", "engine", "language"},
    "api": {"base", "engine", "language"},
    "package": {"base", "api", "package"},  # gradcli/__init__.py: the public names, lazily
    "tools": {"base", "engine", "language", "api", "package", "tools"},
    "batch": {"base", "engine", "language", "api", "package", "batch"},
    "cli": {"base", "engine", "language", "api", "package", "tools", "batch", "cli"},
    "main": {"cli"},
}
# Third-party modules a layer must never import, even lazily: the engine draws nothing and parses nothing.
FORBIDDEN = {"engine": {"rich", "typer", "lark", "click"}, "language": {"rich", "typer", "click"}, "api": {"rich", "typer"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    if module in BASE:
        return "base"
    if module == "gradcli":
        return "package"
    if module == "gradcli.api":
        return "api"
    if module == "gradcli.__main__":
        return "main"
    return module.split(".")[1]


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(module: str, top_level_only: bool = False) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the module; `from . import x` names x's module when it is one."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return found


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        assert layer(module) in ALLOWED, f"{module} is in no layer: put it in a layer's folder"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    mine = layer(module)
    for target, line in imports(module):
        top = target.split(".")[0]
        if top == "gradcli":
            assert layer(target) in ALLOWED[mine], (
                f"{module}:{line} imports {target}: the {mine} layer may import only {sorted(ALLOWED[mine])}"
            )
        else:
            assert top not in FORBIDDEN.get(mine, set()), f"{module}:{line} imports {top}, which the {mine} layer must not"


def test_each_folder_says_what_it_may_import() -> None:
    for folder in ("language", "engine", "tools", "batch", "cli"):
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "import" in doc.lower(), f"gradcli/{folder}/__init__.py should say what the layer is and may import"


def test_no_import_cycle_at_module_level() -> None:
    graph = {m: {t for t, _ in imports(m, top_level_only=True) if t in MODULES and t != m} for m in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        state[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(child) == 1:
                cycle = path[path.index(child) :] + [child]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
