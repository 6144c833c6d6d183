"""Runs that are interrupted, terminated, crash or are killed at many different points still
leave a schema-valid report, marked ``complete: false``, holding what finished, and an intact
evidence chain. Files are written atomically, so there is never a half-written JSON.

Each case runs ``drready run --simulate battery`` in its own process with
``tests/interrupt_plugin.py``, which stops the run exactly at the chosen point (the N-th evidence
record, a pytest hook, inside a report write) by the chosen means.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from drready.bundle import verify_bundle
from drready.evidence import GENESIS, Record, verify_chain
from drready.report.json_report import load_report

#: Whole runs of the suites, interrupted at each point: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
#: The battery run writes about 1,500 evidence records (3,500 when the suites read it every 10
#: s); these points spread over all of it. A point past the end is never reached and the run
#: exits 0, which the test reports.
RECORDS = (1, 3, 10, 40, 120, 300, 500, 700, 900, 1100, 1250, 1350, 1450)
CASES = [
    *(f"sigint:record:{n}" for n in RECORDS),
    *(f"sigterm:record:{n}" for n in (5, 400, 1300)),
    *(f"crash:record:{n}" for n in (7, 900)),
    *(f"kill:record:{n}" for n in (60, 1000, 1400)),
    "sigint:collection_finish",
    "sigint:first_setup",
    "sigint:first_teardown",
    "sigint:last_call",
    "sigint:session_teardown",
    "sigterm:session_teardown",
    "crash:collection_finish",
    "crash:session_teardown",
    "sigint:report_write:3",
    "kill:report_write:5",
    "kill:report_write:12",
]


def _run(case: str, report_dir: Path) -> tuple[int, str]:
    env = {**os.environ, "DRREADY_TEST_STOP": case, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    command += ["--report-dir", str(report_dir), "--", "-q", "-p", "tests.interrupt_plugin"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, Path]]:
    base = tmp_path_factory.mktemp("interrupted")

    def one(case: str) -> tuple[int, str, Path]:
        report_dir = base / case.replace(":", "_")
        status, output = _run(case, report_dir)
        return status, output, report_dir

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(CASES, pool.map(one, CASES), strict=True))


def test_there_are_twenty_points_or_more() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES)
def test_what_is_left_is_valid_and_incomplete(
    outcomes: dict[str, tuple[int, str, Path]], case: str
) -> None:
    status, output, report_dir = outcomes[case]
    how = case.split(":")[0]
    assert status != 0, f"{case}: the run exited 0\n{output[-2000:]}"
    if how in ("sigint", "sigterm"):
        assert status == 130, f"{case}: exit {status}\n{output[-2000:]}"
        assert "Traceback" not in output, output[-3000:]
    path = report_dir / "report.json"
    assert path.exists(), f"{case}: no report.json\n{output[-2000:]}"
    document: dict[str, Any] = load_report(path)  # parses and validates against the schema
    if case == "crash:session_teardown":
        # The DUT failed to close after the last test: the run finished, with that error.
        assert document["complete"] is True
        assert any(t["outcome"] == "error" for r in document["requirements"] for t in r["tests"])
    else:
        assert document["complete"] is False
    # Only complete JSON files: no temporary file was left half-written in place of a report.
    for name in os.listdir(report_dir):
        if name.endswith(".json"):
            json.loads((report_dir / name).read_text(encoding="utf-8"))
    finished = [t for r in document["requirements"] for t in r["tests"]]
    for test in finished:
        assert test["outcome"] in ("passed", "failed", "skipped", "error")
    # The evidence chain is intact up to where the run stopped.
    evidence_path = report_dir / "evidence.jsonl"
    if not evidence_path.exists():
        # Stopped before the device was opened: nothing was exchanged, and nothing passed.
        assert not [t for t in finished if t["outcome"] == "passed"], case
        return
    lines = evidence_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    if records:
        assert records[0]["prev"] == GENESIS
        head = Record(**records[-1]).digest()
        assert verify_chain(records, head) is None
    if how in ("sigint", "sigterm") and "records" in document["evidence"]:
        # A clean stop also seals what it has: the bundle verifies as written.
        assert verify_bundle(report_dir) == [], case
    evidence = document["evidence"]
    if how in ("sigint", "sigterm") and "records" in evidence:
        # A clean stop writes a final report: it accounts for every evidence record. (Stopped
        # while the device was being opened, the report has no DUT and no count.)
        assert evidence["records"] == len(records)
        assert evidence["head_digest"] == Record(**records[-1]).digest()
