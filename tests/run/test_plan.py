"""``drready plan``: the schedule before a run (drready.run.plan), and how it holds against a run.

The plan's figures come from each test's ``duration`` marker, a function of the profile that the
test's own waits are sized from; a simulated run measures each test's device time, and the two
must agree within :data:`MARGIN` of the measured time plus one poll interval.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drready.profile import default_profile
from drready.run.plan import PlanEntry, schedule
from drready.run.progress import Progress

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "profiles"
LAB = FIXTURES / "battery-lab.toml"
#: Allowed difference between planned and measured device time, as a share of the measured.
MARGIN = 0.10
#: The bench budget of the battery suite on the lab profile's timings (issue 14).
BENCH_BUDGET_S = 3 * 3600.0


def _drready(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drready.cli", *args], capture_output=True, text=True, timeout=300
    )


def _plan_json(*args: str) -> dict[str, Any]:
    done = _drready("plan", *args, "--json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_lab_profile_plans_at_most_three_hours() -> None:
    done = _drready("plan", "--profile", str(LAB))
    assert done.returncode == 0, done.stderr
    total = re.search(r"^total: (\d+):(\d\d):(\d\d) of device time", done.stdout, re.M)
    assert total is not None, done.stdout
    hours, minutes, seconds = (int(g) for g in total.groups())
    planned_s = hours * 3600 + minutes * 60 + seconds
    # Well above nothing (the suite waits for real DRs) and within the bench budget.
    assert 3600 < planned_s <= BENCH_BUDGET_S, done.stdout
    assert "operator steps:" in done.stdout
    # An external device: real time is device time, shown per test.
    assert "test_dr_discharge_stops_at_backup_reserve" in done.stdout


@pytest.mark.parametrize(
    "profile_args",
    [["--profile", str(LAB)], []],
    ids=["lab-timings", "built-in"],
)
def test_plan_matches_the_device_time_a_simulated_run_measures(
    tmp_path: Path, profile_args: list[str]
) -> None:
    plan = _plan_json("--simulate", "battery", *profile_args)
    done = _drready(
        "run", "--simulate", "battery", *profile_args, "--report-dir", str(tmp_path / "run")
    )
    assert done.returncode == 0, done.stdout[-3000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    measured: dict[str, float] = {}
    for requirement in report["requirements"]:
        for test in requirement["tests"]:
            measured[test["nodeid"]] = test["device_time_s"]
    poll_s = report["profile"]["timings"]["poll_interval_s"]
    planned = {t["nodeid"]: t["device_s"] for t in plan["tests"]}
    assert set(planned) <= set(measured) | {n for n in planned if planned[n] == 0}
    for nodeid, planned_s in planned.items():
        got = measured.get(nodeid, 0.0)
        assert abs(planned_s - got) <= MARGIN * got + poll_s, (nodeid, planned_s, got)
    total = sum(measured.values())
    assert abs(plan["total_device_s"] - total) <= MARGIN * total, (plan["total_device_s"], total)
    # The suite covers what it did, and on the lab's timings within the bench budget.
    if profile_args:
        assert total <= BENCH_BUDGET_S


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan"], "plan: expected --profile FILE or --simulate CLASS"),
        (["plan", "--profile", "/nonexistent/p.toml"], "p.toml"),
        (["plan", "--simulate", "battery", "--time-scale", "10"], "--time-scale"),
        (["plan", "--simulate", "heatpump", "--profile", str(LAB)], "device.class"),
    ],
)
def test_plan_usage_errors_are_one_line_with_status_2(args: list[str], message: str) -> None:
    done = _drready(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("drready: ") and message in lines[0]


def _entry(nodeid: str, seconds: float | None, **kwargs: Any) -> PlanEntry:
    duration = None if seconds is None else (lambda _profile, s=seconds: s)
    return PlanEntry(
        nodeid,
        kwargs.get("requirements", ()),
        duration,
        kwargs.get("shared"),
        kwargs.get("operator_steps", ()),
    )


def test_a_shared_scenario_is_spent_once_and_operator_steps_are_listed() -> None:
    profile = default_profile("battery")
    planned = schedule(
        [
            _entry("a.py::test_hold", 1800.0, shared="series"),
            _entry("a.py::test_requests", 1800.0, shared="series"),
            _entry("b.py::test_restart", None, operator_steps=("restart",)),
            _entry("b.py::test_restore", 600.0),
        ],
        profile,
    )
    assert [t.device_s for t in planned.tests] == [1800.0, 0.0, 0.0, 600.0]
    assert planned.tests[1].shared_with == "a.py::test_hold"
    assert planned.total_device_s == 2400.0
    text = "\n".join(planned.lines())
    assert "judges the series run by test_hold" in text
    assert "restart: b.py::test_restart" in text
    assert "total: 0:40:00 of device time" in text
    # Time left while the second test runs: nothing of its own, then the rest.
    assert planned.left_device_s("a.py::test_requests", 5.0) == 600.0
    assert planned.left_device_s("a.py::test_hold", 800.0) == 1600.0
    assert planned.left_device_s("elsewhere.py::test_x", 0.0) is None


def test_progress_line_shows_the_run_time_left_by_the_plan() -> None:
    profile = default_profile("battery")
    planned = schedule([_entry("t.py::test_a", 3600.0), _entry("t.py::test_b", 1800.0)], profile)
    now = [1000.0]
    progress = Progress(io.StringIO(), lambda: now[0], tty=True, schedule=planned)
    progress.start_test("t.py::test_a", ("BAT-2.2",))
    now[0] += 600.0
    assert progress.text() == (
        "drready BAT-2.2 | elapsed 0:10:00 | run left 1:20:00 by plan | test_a"
    )
    # A device whose clock runs 60x: the time left is real time.
    fast = Progress(io.StringIO(), lambda: now[0], tty=True, schedule=planned, time_scale=60.0)
    fast.start_test("t.py::test_b", ("BAT-2.6",))
    assert fast.text() == "drready BAT-2.6 | elapsed 0:00:00 | run left 0:00:30 by plan | test_b"
