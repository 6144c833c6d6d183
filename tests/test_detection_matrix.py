"""The detection matrix: the golden simulator passes, and every named fault fails exactly the
requirements it lists, through the real command line (``drready run --simulate battery``).

A test that cannot fail is a defect; this is where each conformance test is shown to fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drready.catalog import Kind, for_class
from simulators.faults import FAULTS, faults_for
from tests.helpers import GATEWAY_BATTERY_REQUIREMENTS

#: Bound on one simulated run; a golden run takes about 2 s.
RUN_TIMEOUT_S = 120
GOLDEN = "(golden)"


@dataclass(frozen=True)
class Run:
    exit_status: int
    report: dict[str, Any]
    stderr: str

    def verdicts(self) -> dict[str, str]:
        return {r["id"]: r["verdict"] for r in self.report["requirements"]}

    def failed(self) -> set[str]:
        return {rid for rid, verdict in self.verdicts().items() if verdict == "fail"}


def _run(fault: str, report_dir: Path) -> Run:
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    if fault != GOLDEN:
        command += ["--fault", fault]
    command += ["--report-dir", str(report_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    report_path = report_dir / "report.json"
    if not report_path.exists():
        raise AssertionError(f"{fault}: no report written; stderr: {done.stderr[-2000:]}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return Run(done.returncode, report, done.stderr)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    names = [GOLDEN, *sorted(f.name for f in faults_for("battery"))]
    base = tmp_path_factory.mktemp("matrix")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = pool.map(lambda n: _run(n, base / n.strip("()")), names)
        return dict(zip(names, runs, strict=True))


def test_golden_simulator_passes_every_battery_requirement(matrix: dict[str, Run]) -> None:
    golden = matrix[GOLDEN]
    assert golden.exit_status == 0, golden.stderr
    assert golden.report["complete"] is True
    verdicts = golden.verdicts()
    assert set(verdicts) == {r.id for r in for_class("battery")}
    for rid in GATEWAY_BATTERY_REQUIREMENTS:
        assert verdicts[rid] == "pass", rid
    assert verdicts["BAT-3.1"] == "declared"
    for rid in ("BAT-1.2", "BAT-3.2"):  # server path: not in this run, and said why
        assert verdicts[rid] == "not-tested"
    for requirement in golden.report["requirements"]:
        assert requirement["reason"], requirement["id"]
    assert golden.report["device_time"]["covered_s"] >= 4 * 3600


@pytest.mark.parametrize("fault", sorted(f.name for f in faults_for("battery")))
def test_fault_fails_exactly_its_requirements(matrix: dict[str, Run], fault: str) -> None:
    run = matrix[fault]
    listed = set(FAULTS[fault].requirements)
    assert run.failed() == listed, (
        f"{fault} should fail exactly {sorted(listed)}; failed {sorted(run.failed())}"
    )
    assert run.exit_status != 0
    assert run.report["faults"] == [fault]
    for requirement in run.report["requirements"]:
        if requirement["id"] in listed:
            failing = [t for t in requirement["tests"] if t["outcome"] in ("failed", "error")]
            assert failing and all(t["message"] for t in failing)


def test_every_exercisable_battery_requirement_has_a_fault() -> None:
    covered = {rid for f in faults_for("battery") for rid in f.requirements}
    exercisable = {
        r.id
        for r in for_class("battery")
        if r.kind == Kind.TESTED and "gateway" in {str(t) for t in r.topologies}
    }
    assert exercisable - covered == set()
    assert len(faults_for("battery")) >= 12
