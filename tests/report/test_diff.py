"""``drready diff``: verdict, outcome and figure changes between two runs."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drready.cli import main
from drready.report.diff import diff_reports
from drready.report.json_report import write_report

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def battery_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("diff") / "a"
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    done = subprocess.run(
        [*command, "--report-dir", str(run), "--", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    return run


def _report(run: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((run / "report.json").read_text(encoding="utf-8"))
    return document


def _test_with_metric(report: dict[str, Any], name: str) -> dict[str, Any]:
    for requirement in report["requirements"]:
        for test in requirement["tests"]:
            if any(m["name"] == name for m in test.get("metrics", [])):
                return test  # type: ignore[no-any-return]
    raise AssertionError(f"no test recorded {name}")


def test_the_battery_suite_records_its_response_time(battery_run: Path) -> None:
    test = _test_with_metric(_report(battery_run), "response_s")
    assert "test_power_reaches_target" in test["nodeid"]
    (metric,) = [m for m in test["metrics"] if m["name"] == "response_s"]
    assert metric["unit"] == "s" and 0 < metric["value"] <= 300


def test_same_run_has_no_changes(battery_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(battery_run), str(battery_run)]) == 0
    assert "no change" in capsys.readouterr().out


def test_response_time_drift_and_verdict_change_are_listed(
    battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    after = copy.deepcopy(_report(battery_run))
    slow = _test_with_metric(after, "response_s")
    (before,) = [m["value"] for m in slow["metrics"] if m["name"] == "response_s"]
    for metric in slow["metrics"]:
        if metric["name"] == "response_s":
            metric["value"] = 240.0
    for requirement in after["requirements"]:
        if requirement["id"] == "BAT-2.5":
            requirement["verdict"] = "fail"
            requirement["reason"] = "counter went backwards"
    other = tmp_path / "b"
    shutil.copytree(battery_run, other)
    write_report(other / "report.json", after)
    assert main(["diff", str(battery_run), str(other)]) == 1
    out = capsys.readouterr().out
    assert "verdict  BAT-2.5: pass -> fail (counter went backwards)" in out
    drift = f"+{240 - before:g} s, +{(240 - before) / before:.0%}"
    assert f"{slow['nodeid']} :: response_s: {before:g} s -> 240 s ({drift})" in out
    assert "1 verdict change, 0 test changes, 1 metric change" in out
    assert main(["diff", "--json", str(battery_run), str(other)]) == 1
    listed = json.loads(capsys.readouterr().out)
    assert [c["kind"] for c in listed] == ["verdict", "metric"]


def test_small_moves_are_not_drift(battery_run: Path) -> None:
    before = _report(battery_run)
    after = copy.deepcopy(before)
    test = _test_with_metric(after, "response_s")
    test["metrics"][0]["value"] += 0.5  # under the 1 s floor
    assert diff_reports(before, after) == []


def test_tests_only_one_run_has_are_listed(battery_run: Path) -> None:
    before = _report(battery_run)
    after = copy.deepcopy(before)
    dropped = after["requirements"][0]["tests"].pop()
    changes = diff_reports(before, after)
    assert [(c.kind, c.key, c.after) for c in changes][:1] == [
        ("test", dropped["nodeid"], "absent")
    ]


def test_a_missing_run_is_a_usage_error(
    battery_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(battery_run), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"drready: {tmp_path / 'report.json'}: no report here (expected a run directory)"
