"""Packaging: suites and simulators install inside the drready namespace, never at the top of
site-packages, and every package folder is listed in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The repository folders that install under another name (pyproject's package-dir).
RENAMED = {"suites": "drready.suites", "simulators": "drready.simulators"}


def _setuptools() -> dict[str, object]:
    document = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    section: dict[str, object] = document["tool"]["setuptools"]
    return section


def test_every_package_folder_is_listed_and_nothing_else() -> None:
    folders: set[str] = set()
    for top, name in (("drready", "drready"), *RENAMED.items()):
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(ROOT / top).parts
            folders.add(".".join((name, *rel)))
    assert set(_setuptools()["packages"]) == folders  # type: ignore[arg-type]
    assert _setuptools()["package-dir"] == {v: k for k, v in RENAMED.items()}


@pytest.mark.slow
def test_the_wheel_installs_nothing_at_the_top_but_drready(tmp_path: Path) -> None:
    # Built from a copy of the tracked files, so the checkout gets no build/ folder.
    source = tmp_path / "source"
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, timeout=60
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = wheels.glob("drready-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"drready", next(t for t in tops if t.endswith(".dist-info"))}
    for package in ("drready/suites/battery/test_restore.py", "drready/simulators/faults.py"):
        assert package in names
    for data in (
        "drready/profile/builtin/battery.toml",
        "drready/profile/profile.schema.json",
        "drready/report/report.schema.json",
        "drready/echonet/mra/COPYRIGHT.txt",
        "drready/openadr/spec/LICENSE",
        "drready/openadr/spec/NOTICE",
        "drready/openadr/spec/SOURCE.md",
        "drready/openadr/spec/3.1.0/openadr3.yaml",
        "drready/openadr/spec/3.1.0/spec.json",
        "drready/openadr/spec/3.1.0/enumerations/report-payloads.schema.yaml",
        "drready/openadr/spec/3.1.1/openadr3.yaml",
        "drready/openadr/spec/3.1.1/spec.json",
        "drready/openadr/spec/3.1.1/enumerations/README.md",
    ):
        assert data in names


def test_no_two_test_modules_share_a_file_name() -> None:
    """The tests are rootdir-relative modules without ``__init__.py``: two files of one name in
    different folders stop collection of the whole run ("import file mismatch")."""
    tests = Path(__file__).resolve().parents[1]
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted(tests.rglob("test_*.py")):
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(tests)} and {path.relative_to(tests)}")
        seen.setdefault(path.name, path)
    assert not clashes, clashes
