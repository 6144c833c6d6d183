"""Runs and keys shared by the signing and review tests: one real battery run and one real
combined run (``-k identity``, to stay short) per session, copied by each test that changes
them; keys are generated here, none is committed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sign.keyfiles import Keys


def drready_run(report_dir: Path, *args: str) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "drready.cli", "run", "--report-dir", str(report_dir), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return report_dir


@pytest.fixture(scope="session")
def battery_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return drready_run(tmp_path_factory.mktemp("battery") / "run", "--simulate", "battery")


@pytest.fixture(scope="session")
def combined_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return drready_run(tmp_path_factory.mktemp("combined") / "run", "--", "-k", "identity")


@pytest.fixture
def bundle(battery_run: Path, tmp_path: Path) -> Path:
    """A copy of the battery run, this test's to change."""
    copy = tmp_path / "run"
    shutil.copytree(battery_run, copy)
    return copy


@pytest.fixture
def combined(combined_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "combined"
    shutil.copytree(combined_run, copy)
    return copy


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    folder = tmp_path / "keys"
    folder.mkdir()
    return Keys(folder)
