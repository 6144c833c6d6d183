"""``drready plan``: how long a run will take, before it starts.

The suites are collected (never run) in this process with the drready plugin and the profile,
exactly as ``drready run`` would collect them; each test's ``duration`` marker gives its device
time under the profile's declared timings (:mod:`drready.run.plan`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drready.cli.warm import suites_config
from drready.errors import UsageError
from drready.model import DeviceClass, Topology
from drready.profile import Profile
from drready.run.options import RunOptions, check_run, new_run_id, resolve_profile, suites_dir
from drready.run.plan import PlanEntry, Schedule, schedule

if TYPE_CHECKING:
    import pytest


def planned(
    items: Sequence[pytest.Item],
    profile: Profile,
    ids: dict[str, tuple[str, ...]],
    topology: Topology,
) -> Schedule:
    """The schedule of ``items`` in run order: ``@pytest.mark.duration(seconds=f, shared=...)``
    and ``@pytest.mark.operator_step(name)`` as each test declares them. A test of another
    topology is left out (it is skipped at once)."""
    entries = []
    for item in items:
        if any(m.args and str(m.args[0]) != topology for m in item.iter_markers("topology")):
            continue
        marker = item.get_closest_marker("duration")
        kwargs = marker.kwargs if marker is not None else {}
        steps = tuple(str(m.args[0]) for m in item.iter_markers("operator_step") if m.args)
        entries.append(
            PlanEntry(
                item.nodeid,
                ids.get(item.nodeid, ()),
                kwargs.get("seconds"),
                kwargs.get("shared"),
                steps,
            )
        )
    return schedule(entries, profile)


class _Collector:
    """pytest plugin: keeps the run recorder's schedule and any collection error."""

    def __init__(self) -> None:
        self.schedule: Schedule | None = None
        self.errors: list[str] = []

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {str(report.longrepr).splitlines()[-1]}")

    def pytest_collection_finish(self, session: Any) -> None:
        recorder = session.config.pluginmanager.get_plugin("drready-recorder")
        if recorder is not None:
            self.schedule = recorder.schedule


def collect_schedule(
    profile_path: Path | None, simulate: DeviceClass | None, time_scale: float
) -> Schedule:
    """The schedule of the run ``drready run`` would make with these options."""
    import pytest

    if profile_path is None and simulate is None:
        raise UsageError("plan: expected --profile FILE or --simulate CLASS")
    with tempfile.TemporaryDirectory(prefix="drready-plan-") as scratch:
        options = RunOptions(
            profile_path=profile_path,
            simulate=simulate,
            faults=(),
            report_dir=Path(scratch),
            time_scale=time_scale,
            run_id=new_run_id(),
            impair=None,
        )
        check_run(options, resolve_profile(options))
        argv = [str(suites_dir()), *suites_config(), "--collect-only", "-p", "no:cacheprovider"]
        argv += ["-p", "no:terminal"]
        argv += ["--report-dir", scratch, "--rootdir", str(suites_dir().parent)]
        if profile_path is not None:
            argv += ["--profile", str(profile_path)]
        if simulate is not None:
            argv += ["--simulate", str(simulate)]
        if time_scale != 1.0:
            argv += ["--time-scale", str(time_scale)]
        collector = _Collector()
        pytest.main(argv, plugins=[collector])
    if collector.errors:
        raise UsageError("plan: the suites did not collect: " + "; ".join(collector.errors))
    if collector.schedule is None:
        raise UsageError("plan: no test was collected")
    return collector.schedule


def cmd_plan(args: argparse.Namespace) -> int:
    time_scale = 1.0 if args.time_scale is None else float(args.time_scale)
    simulate = DeviceClass(args.simulate) if args.simulate else None
    plan = collect_schedule(args.profile, simulate, time_scale)
    if args.json:
        document = {
            "simulated": plan.simulated,
            "time_scale": plan.time_scale,
            "total_device_s": plan.total_device_s,
            "total_real_s": None if plan.simulated else plan.real_s(plan.total_device_s),
            "tests": [
                {
                    "nodeid": t.nodeid,
                    "requirements": list(t.requirements),
                    "device_s": t.device_s,
                    "shared_with": t.shared_with,
                    "operator_steps": list(t.operator_steps),
                }
                for t in plan.tests
            ],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print("\n".join(plan.lines()))
    return 0
