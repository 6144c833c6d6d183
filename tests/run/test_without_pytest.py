"""A finished run is read without pytest: ``drready report``, ``verify`` and ``diff`` work from the
run directory alone, and the run layer and the report document import without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

#: Runs the ``drready`` command line (or, with ``--import-only``, imports the run and report
#: layers) in a process where ``import pytest`` fails.
WITHOUT_PYTEST = """
import sys

class NoPytest:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("pytest", "_pytest"):
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, NoPytest())
if sys.argv[1:] == ["--import-only"]:
    import drready.report.combined
    import drready.report.diff
    import drready.report.run_document
    import drready.run
    import drready.run.multirun
    status = 0
else:
    from drready.cli import main
    status = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in ("pytest", "_pytest"))
assert not loaded, loaded
sys.exit(status)
"""


def _without_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def battery_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("nopytest") / "run"
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    done = subprocess.run(
        [*command, "--report-dir", str(run), "--", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    return run


def test_the_blocker_blocks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST.replace("if sys.argv", "import pytest\nif sys.argv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "pytest is not installed here" in done.stderr


def test_the_run_and_report_layers_import_without_pytest() -> None:
    done = _without_pytest("--import-only")
    assert done.returncode == 0, done.stderr


def test_report_reads_a_run_without_pytest(battery_run: Path) -> None:
    done = _without_pytest("report", str(battery_run))
    assert done.returncode == 0, done.stderr
    assert "(complete), battery, simulated=True" in done.stdout
    assert "\nBAT-2.2      pass" in done.stdout and "\nBAT-2.7 " in done.stdout


def test_verify_checks_a_run_without_pytest(battery_run: Path) -> None:
    done = _without_pytest("verify", str(battery_run))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{battery_run}: untouched (manifest sha256 ")


def test_diff_compares_runs_without_pytest(battery_run: Path) -> None:
    done = _without_pytest("diff", str(battery_run), str(battery_run))
    assert done.returncode == 0, done.stderr
    assert "no change in verdicts, test outcomes or figures" in done.stdout


def test_a_bad_run_directory_is_one_line_without_pytest(tmp_path: Path) -> None:
    done = _without_pytest("report", str(tmp_path))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"drready: {tmp_path}/report.json: no report here (expected a run directory)"
    )
