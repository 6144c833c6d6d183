#!/usr/bin/env python3
"""Check drready's import graph: layers import one way, no cycles, simulators stay apart.

Run from anywhere: ``python3 tools/check_layers.py`` (``--root DIR`` for another checkout). It
reads the code as text (Python's ``ast``; nothing is imported or run) and counts every import:
module level, inside functions and under ``TYPE_CHECKING`` alike, because a cycle or a reach
across layers is a design problem wherever the import statement sits. It exits 1 and prints one
line per breach, or prints a one-line summary and exits 0. The layers are described in
docs/architecture.md; the table below is their machine-readable copy.

Rules:
- a module of the harness (``drready/``) imports only modules of its own layer or below;
- nothing in ``drready/`` imports the suites or the simulators (the simulators are found
  through the ``drready.simulators`` entry point, the suites as files);
- the simulators (``simulators/``, installed as ``drready.simulators``) import only the core,
  the protocol packages, the simulator interface (``drready.simulation``) and each other: no
  profile, binding, facade, run, report or plugin;
- the suites (``suites/``, installed as ``drready.suites``) import anything but the plugin and
  the command line;
- only the top layer (plugin, recorder, command line) imports pytest: the run record, the reports
  and everything below them work without it;
- nobody imports ``simulators`` or ``suites`` as top-level packages (they do not exist once
  installed);
- no import cycle among all of these modules;
- a module over ``MAX_LINES`` lines says why at its top: its docstring has a sentence with
  "past 500 lines" (or "past ~500", "over 500"): "One idea past ~500 lines: ...".
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The harness's layers, bottom first: (name, module prefixes). A module belongs to the layer of
#: its longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "core",
        (
            "drready",
            "drready.errors",
            "drready.model",
            "drready.canonical",
            "drready.clock",
            "drready.timeofday",
            "drready.evidence",
            "drready.impairment",
            "drready.operator",
        ),
    ),
    ("protocols", ("drready.echonet", "drready.modbus", "drready.openadr", "drready.webapi")),
    # The interface the simulators implement and the registry that finds them: above the
    # protocol packages, whose types its specs carry, and below everything of the harness.
    ("simulation", ("drready.simulation",)),
    ("data", ("drready.catalog", "drready.profile", "drready.jcstar")),
    ("bindings", ("drready.bindings",)),
    ("device", ("drready.device",)),
    ("run", ("drready.run",)),
    ("report", ("drready.report", "drready.bundle")),
    ("top", ("drready.pytest_plugin", "drready.recorder", "drready.cli")),
)
SIMULATORS = "drready.simulators"
SUITES = "drready.suites"
#: What the simulators may import besides themselves.
SIMULATORS_MAY_IMPORT = ("core", "protocols", "simulation")
SIMULATOR_BREACH = (
    "a simulator may import only the core, the protocol packages and drready.simulation"
)
#: What the suites may not import.
SUITES_MAY_NOT_IMPORT = ("top",)
#: Where each installed package lives in the repository.
SOURCES = {"drready": "drready", SUITES: "suites", SIMULATORS: "simulators"}
MAX_LINES = 500
#: How a long module's docstring says why it is long.
LENGTH_REASON = re.compile(r"\b(?:past|over|at) ~?500 lines\b")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int


def find_modules(root: Path) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package, folder in SOURCES.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join([package, *parts])
            modules[name] = Module(name, path, is_package)
    return modules


def _imports(module: Module, known: dict[str, Module]) -> Iterator[Import]:
    tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module.name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            for alias in node.names:
                # "from a import b" imports module a.b where there is one, else a name of a.
                child = f"{base}.{alias.name}"
                yield Import(module.name, child if child in known else base, node.lineno)


def layer_of(name: str) -> str | None:
    best: tuple[int, str] | None = None
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            matches = name == prefix or (prefix != "drready" and name.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return best[1] if best else None


_RANK = {layer: rank for rank, (layer, _) in enumerate(LAYERS)}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def breach(imp: Import) -> str | None:
    """Why ``imp`` breaks a rule, or None."""
    source, target = imp.source, imp.target
    top = target.split(".")[0]
    if top in ("simulators", "suites"):
        return f"imports the top-level package {top!r}; use {SOURCES_BY_FOLDER[top]}"
    if top in ("pytest", "_pytest"):
        if _within(source, SUITES) or layer_of(source) == "top":
            return None
        return "only the plugin, the recorder and the command line may import pytest"
    if not _within(target, "drready"):
        return None
    if _within(source, SIMULATORS):
        if _within(target, SIMULATORS):
            return None
        if _within(target, SUITES) or layer_of(target) not in SIMULATORS_MAY_IMPORT:
            return SIMULATOR_BREACH
        return None
    if _within(source, SUITES):
        if _within(target, SIMULATORS):
            return "a suite may not import the simulators (it speaks to the facade)"
        if layer_of(target) in SUITES_MAY_NOT_IMPORT:
            return "a suite may not import the plugin or the command line"
        return None
    if _within(target, SIMULATORS) or _within(target, SUITES):
        return "the harness may not import the simulators or the suites"
    source_layer, target_layer = layer_of(source), layer_of(target)
    if source_layer is None or target_layer is None:
        return f"module outside every layer ({source if source_layer is None else target})"
    if _RANK[target_layer] > _RANK[source_layer]:
        return f"the {source_layer} layer may not import the {target_layer} layer"
    return None


SOURCES_BY_FOLDER = {folder: package for package, folder in SOURCES.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a self-import (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # Iterative depth-first search: a deep chain of imports must not hit the recursion limit.
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    found.append(sorted(component))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return found


def _cycle_path(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One actual cycle through the component's first module, as a path back to it."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges.get(node, ())):
            if child == start:
                return [*paths[node], start]
            if child in members and child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return [*component, start]


def _length_reason(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = " ".join((ast.get_docstring(tree) or "").split())
    return LENGTH_REASON.search(doc) is not None


def check(root: Path) -> tuple[list[str], int, int]:
    """Every breach under ``root`` as a line, and the counts of modules and imports read."""
    modules = find_modules(root)
    problems: list[str] = []
    edges: dict[str, set[str]] = {name: set() for name in modules}
    count = 0
    for module in modules.values():
        where = module.path.relative_to(root)
        for imp in dict.fromkeys(_imports(module, modules)):
            count += 1
            why = breach(imp)
            if why is not None:
                problems.append(f"{where}:{imp.line}: {imp.source} imports {imp.target}: {why}")
            if imp.target in modules and imp.target != imp.source:
                edges[imp.source].add(imp.target)
        lines = module.path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES and not _length_reason(module.path):
            problems.append(
                f"{where}: {lines} lines, over {MAX_LINES}, and its docstring does not say why "
                f"(a sentence with 'past {MAX_LINES} lines')"
            )
    for component in cycles(edges):
        problems.append("import cycle: " + " -> ".join(_cycle_path(component, edges)))
    return problems, len(modules), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="the repository to check (default: this checkout)",
    )
    args = parser.parse_args(argv)
    problems, modules, imports = check(args.root)
    for problem in problems:
        print(problem)
    verdict = f"{len(problems)} breach(es)" if problems else "no breach"
    print(f"check_layers: {modules} modules, {imports} imports read: {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
