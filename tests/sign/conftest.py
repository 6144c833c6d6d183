"""Runs and keys shared by the signing and review tests: one real battery run and one real
combined run (``-k identity``, to stay short) per session, copied by each test that changes
them; keys are generated here, none is committed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import drready_run_ok
from tests.sign.keyfiles import Keys


@pytest.fixture(scope="session")
def battery_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return drready_run_ok(tmp_path_factory.mktemp("battery") / "run", "--simulate", "battery")


@pytest.fixture(scope="session")
def combined_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return drready_run_ok(tmp_path_factory.mktemp("combined") / "run", "--", "-k", "identity")


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
