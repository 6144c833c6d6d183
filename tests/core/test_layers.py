"""tools/check_layers.py: the repository keeps its layers, and each kind of breach is caught."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "check_layers.py"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_repository_keeps_its_layers() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout
    assert "no breach" in done.stdout


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    base = {
        "drready/__init__.py": "",
        "drready/model.py": "",
        "drready/echonet/__init__.py": "",
        "drready/device/__init__.py": "",
        "drready/run/__init__.py": "",
        "drready/pytest_plugin.py": "",
        "simulators/__init__.py": "",
        "simulators/node.py": "from drready.echonet import codec\n",
        "suites/__init__.py": "",
        "drready/echonet/codec.py": "from drready.model import X\n",
    }
    for name, text in {**base, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    problems, modules, _ = _checker().check(_tree(tmp_path, {}))
    assert problems == []
    assert modules == 10


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"simulators/ven.py": "from drready.device import DeviceUnderTest\n"},
            "simulators/ven.py:1: drready.simulators.ven imports drready.device: a simulator "
            "may import only the core, the protocol packages and drready.simulation",
        ),
        (
            {"drready/run/session.py": "def f():\n    from drready.simulators import node\n"},
            "drready/run/session.py:2: drready.run.session imports drready.simulators.node: "
            "the harness may not import the simulators or the suites",
        ),
        (
            {"drready/echonet/gateway.py": "from drready.device import DeviceUnderTest\n"},
            "drready.echonet.gateway imports drready.device: the protocols layer may not "
            "import the device layer",
        ),
        (
            {"suites/test_a.py": "from drready.pytest_plugin import STATE_KEY\n"},
            "a suite may not import the plugin or the command line",
        ),
        (
            {"drready/device/facade.py": "import simulators.faults\n"},
            "imports the top-level package 'simulators'; use drready.simulators",
        ),
        (
            {
                "drready/echonet/errors.py": "from drready.echonet.codec import Frame\n",
                "drready/echonet/codec.py": "from drready.echonet import errors\n",
            },
            "import cycle: drready.echonet.codec -> drready.echonet.errors -> "
            "drready.echonet.codec",
        ),
        (
            {"drready/run/ledger.py": "import pytest\n"},
            "drready.run.ledger imports pytest: only the plugin, the recorder and the command "
            "line may import pytest",
        ),
        (
            {"drready/device/big.py": '"""A long module."""\n' + "x = 1\n" * 501},
            "drready/device/big.py: 502 lines, over 500, and its docstring does not say why "
            "(a sentence with 'past 500 lines')",
        ),
    ],
    ids=[
        "simulator-reaches-up",
        "harness-imports-simulator",
        "layer-upwards",
        "suite-plugin",
        "top-level-name",
        "cycle",
        "pytest-below-top",
        "long-module",
    ],
)
def test_each_kind_of_breach_is_named(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    problems, _, _ = _checker().check(_tree(tmp_path, files))
    assert any(expected in problem for problem in problems), problems


def test_a_long_module_with_its_reason_passes(tmp_path: Path) -> None:
    text = (
        '"""Tables.\n\nWhy past 500\nlines: one table of the standard\'s data.\n"""\n'
        + "x = 1\n" * 600
    )
    problems, _, _ = _checker().check(_tree(tmp_path, {"drready/device/big.py": text}))
    assert problems == []


def test_a_breach_exits_1_with_one_line_each(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"simulators/ven.py": "from drready.run import session\n"})
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("simulators/ven.py:1: ")
    assert lines[-1] == "check_layers: 11 modules, 3 imports read: 1 breach(es)"
