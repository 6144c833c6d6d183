"""Verdict truth on the water heaters (issue 11), end to end as `drready run --simulate CLASS
--fault X` rows: a fault in one requirement fails that requirement and nothing else.

- Class 3, one test's leftovers: a heater that accepts start times outside its published windows
  fails *-2.2 only; the plan the *-2.2 test left (03:00) is withdrawn, and every other test
  starts from the device's own state.
- Class 5, one witness: a heat pump whose power reading (0x84) is a constant 8 W (or 0 W) while
  it heats on time (the energy counter 0x85 and heating status 0xB2 show it) fails *-2.4 and
  passes *-2.3; the contradiction is a *-2.4 finding with both readings.
- Counters across transitions: an energy counter that restarts from 0 when a DR heating starts
  fails *-2.4 only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PASSING = frozenset({"pass", "declared", "not-tested", "not-applicable"})


@dataclass(frozen=True)
class Row:
    verdicts: dict[str, str]
    tests: dict[str, tuple[str, str]]  # test name -> (outcome, message)
    notes: list[tuple[str, str]]  # (test name, note text) from the evidence

    def failing(self) -> set[str]:
        return {rid for rid, verdict in self.verdicts.items() if verdict not in PASSING}


def run_row(device_class: str, fault: str, report_dir: Path) -> Row:
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", device_class]
    done = subprocess.run(
        [*command, "--fault", fault, "--report-dir", str(report_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    verdicts = {r["id"]: r["verdict"] for r in report["requirements"]}
    tests = {
        t["nodeid"].split("::")[-1]: (t["outcome"], t.get("message", ""))
        for r in report["requirements"]
        for t in r.get("tests", [])
    }
    notes: list[tuple[str, str]] = []
    with (report_dir / "evidence.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["kind"] == "note":
                notes.append((record["test"].split("::")[-1], record["summary"]))
    return Row(verdicts, tests, notes)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("device_class", "fault", "prefix"),
    [
        ("heatpump", "hp_accepts_outside_window", "HP"),
        ("hybrid", "hy_accepts_outside_window", "HY"),
    ],
)
def test_a_plan_left_by_the_acceptance_test_fails_nothing_else(
    device_class: str, fault: str, prefix: str, tmp_path: Path
) -> None:
    row = run_row(device_class, fault, tmp_path)
    assert row.failing() == {f"{prefix}-2.2"}
    assert row.verdicts[f"{prefix}-2.2"] == "fail"
    for name, (outcome, message) in row.tests.items():
        if "acceptance" not in name and "outside_refused" not in name:
            assert outcome in ("passed", "skipped"), (name, message)
    # The 03:00 plan the acceptance test left was withdrawn, and read back as gone.
    acceptance = [
        text for test, text in row.notes if test.startswith("test_start_times_inside_windows")
    ]
    assert any(text.startswith("withdrawal accepted") and "no plan" in text for text in acceptance)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("device_class", "fault", "prefix", "reading"),
    [
        ("heatpump", "hp_power_constant_while_heating", "HP", "8 W"),
        ("hybrid", "hy_power_constant_while_heating", "HY", "8 W"),
        ("heatpump", "hp_power_stuck", "HP", "0 W"),
    ],
)
def test_one_wrong_witness_fails_reporting_not_execution(
    device_class: str, fault: str, prefix: str, reading: str, tmp_path: Path
) -> None:
    row = run_row(device_class, fault, tmp_path)
    assert row.failing() == {f"{prefix}-2.4"}
    assert row.verdicts[f"{prefix}-2.3"] == "pass"
    outcome, message = row.tests["test_power_tracks_heating_over_a_day"]
    assert outcome == "failed"
    # Both readings shown: the power read while heating, and the counter's rise beside it.
    assert f"reads {reading}" in message and "energy counter (0x85) rose" in message
    # The execution tests filed the contradiction against the reporting requirement.
    shift_findings = [
        text
        for test, text in row.notes
        if "shift" in test and text.startswith(f"finding against {prefix}-2.4")
    ]
    assert any("witnesses disagree about the DR start" in text for text in shift_findings)
    assert any("energy counter (0x85) rose" in text for text in shift_findings)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("device_class", "fault", "prefix"),
    [
        ("heatpump", "hp_energy_counter_restarts_at_dr", "HP"),
        ("hybrid", "hy_energy_counter_restarts_at_dr", "HY"),
    ],
)
def test_a_counter_reset_at_a_dr_start_fails_reporting(
    device_class: str, fault: str, prefix: str, tmp_path: Path
) -> None:
    row = run_row(device_class, fault, tmp_path)
    assert row.failing() == {f"{prefix}-2.4"}
    outcome, message = row.tests["test_power_tracks_heating_over_a_day"]
    assert outcome == "failed" and "went back" in message and "13:00" in message
