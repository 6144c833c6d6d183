"""The run, report and front-end modules import only downwards (function-local imports too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_MODULES = ("__init__", "options", "ledger", "multirun", "progress")
FRONT_ENDS = ("__init__", "__main__", "main", "run", "inspect", "status")

#: (files, module prefixes none of them may import)
RULES = [
    (
        sorted((ROOT / "drready" / "report").rglob("*.py")),
        ("pytest", "_pytest", "drready.recorder", "drready.pytest_plugin", "drready.cli"),
    ),
    (
        [ROOT / "drready" / "run" / f"{name}.py" for name in RUN_MODULES],
        (
            "pytest",
            "_pytest",
            "drready.report",
            "drready.bundle",
            "drready.recorder",
            "drready.pytest_plugin",
            "drready.cli",
            "drready.simulators",
            "drready.suites",
        ),
    ),
    ([ROOT / "drready" / "recorder.py"], ("drready.pytest_plugin", "drready.cli")),
    (
        [ROOT / "drready" / "cli" / f"{name}.py" for name in FRONT_ENDS],
        ("drready.pytest_plugin", "drready.recorder", "drready.simulators"),
    ),
    (sorted((ROOT / "suites").rglob("*.py")), ("drready.pytest_plugin", "drready.recorder")),
]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [(path, forbidden) for paths, forbidden in RULES for path in paths],
    ids=lambda value: str(value.relative_to(ROOT)) if isinstance(value, Path) else "",
)
def test_imports_go_downwards(path: Path, forbidden: tuple[str, ...]) -> None:
    wrong = sorted(
        name
        for name in _imports(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    )
    assert not wrong, f"{path.relative_to(ROOT)} imports {', '.join(wrong)}"
