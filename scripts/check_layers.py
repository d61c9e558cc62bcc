#!/usr/bin/env python3
"""Import cycles and up-arrows between roboforge's layers (ARCHITECTURE.md's package table).

Reads the source with `ast` (nothing is imported): every `import`/`from ... import` of a roboforge module,
at module level or inside a function; imports under `if TYPE_CHECKING:` count for arrows, not for
cycles. A layer may import only layers listed before it in LAYERS; an import the other way is an
up-arrow. Prints both lists; exits 1 when either is non-empty.

    python scripts/check_layers.py
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
LAYERS = (
    "utils", "sim", "assets", "terrains", "sensors", "scene", "managers", "mdp", "envs", "render", "agents",
    "tasks", "rl", "export", "deploy", "service", "cli",
)  # fmt: skip
"""Packages of `roboforge`, lowest first (the package's own top-level modules count as `utils`)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside `if TYPE_CHECKING:` blocks (imports for annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return inside


def imports_of(path: Path, name: str, runtime_only: bool = False) -> set[str]:
    """roboforge modules imported by the file at `path` (module `name`); with `runtime_only`, without
    the imports under `if TYPE_CHECKING:` (they cannot form an import cycle)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = _type_checking_nodes(tree) if runtime_only else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("roboforge")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("roboforge"):
                found |= {f"{base}.{a.name}" for a in node.names} | {base}
    return found


def layer_of(module: str) -> str:
    """The layer of a roboforge module: its package under `roboforge`; top-level modules are `utils`,
    except `__main__` (the command line's entry)."""
    parts = module.split(".")
    if len(parts) < 2:
        return "utils"
    if parts[1] == "__main__":
        return "cli"
    return parts[1] if parts[1] in LAYERS else "utils"


def graph(runtime_only: bool = False) -> dict[str, set[str]]:
    """Module -> the roboforge modules it imports (all imports, or those that run)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in imports_of(path, name, runtime_only):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].add(target)
    return edges


def up_arrows(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    out = []
    for src, targets in edges.items():
        for dst in targets:
            a, b = layer_of(src), layer_of(dst)
            if rank[b] > rank[a]:
                out.append((src, dst))
    return sorted(out)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
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
        for w in edges.get(v, ()):
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

    sys.setrecursionlimit(10_000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    arrows, loops = up_arrows(graph()), cycles(graph(runtime_only=True))
    for src, dst in arrows:
        print(f"up-arrow: {src} -> {dst}")
    for loop in loops:
        print(f"cycle: {' <-> '.join(loop)}")
    print(f"{len(arrows)} up-arrows, {len(loops)} import cycles")
    return 1 if arrows or loops else 0


if __name__ == "__main__":
    sys.exit(main())
