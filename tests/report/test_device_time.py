"""A ``--time-scale`` run in device time: the report's device-time range, the declaration's plots
and the frames it quotes are on the device's clock, not the harness's.

The evidence is stamped on the harness's clock; a device whose clock runs 60 times faster lives
an hour of its own in each harness minute. These tests build such evidence by hand (four harness
minutes, four device hours) and check every time the declaration draws from it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from drready.model import Topology
from drready.profile import default_profile
from drready.report.declaration.requirements import requirement_rows
from drready.report.json_report import validate_report
from drready.report.plots import DeviceTime, battery_plot, battery_targets, water_heater_plot
from drready.report.run_document import build_document
from drready.run.ledger import RunContext, RunRecord
from drready.run.options import run_options

SCALE = 60.0
#: The harness's clock when the device opened (a whole millisecond: the report keeps ms).
START = 1_800_000_000.25
#: Harness seconds the run lasted: 4 min, so 4 h of device time.
REAL_S = 240.0
COVERED_S = REAL_S * SCALE


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _report() -> dict[str, Any]:
    return {
        "device_time": {"start": _iso(START), "end": None, "covered_s": COVERED_S},
        "profile": {"time_scale": SCALE},
    }


def _battery_records() -> list[dict[str, Any]]:
    """A reading every 10 harness seconds from 5 s after the start to 5 s before the end, and a
    DR request of one device hour (60 harness seconds) at harness second 30."""
    records: list[dict[str, Any]] = []
    for step in range(24):
        t = START + 5.0 + 10.0 * step
        records.append(
            {"kind": "measurement", "time": t, "values": {"power_w": -1000.0 * (step % 2)}}
        )
        records[-1]["values"]["soc_pct"] = 80.0 - step
    records.insert(
        3,
        {
            "kind": "note",
            "time": START + 30.0,
            "summary": "DR request: discharge 1000 W",
            "values": {"target_w": -1000.0, "duration_s": 3600.0},
        },
    )
    return records


def test_device_time_maps_harness_seconds_onto_the_device_clock() -> None:
    clock = DeviceTime.from_report(_report())
    assert clock is not None
    assert clock.start == pytest.approx(START) and clock.scale == SCALE
    assert clock.at(START + 60.0) == pytest.approx(START + 3600.0)
    assert clock.end == pytest.approx(START + COVERED_S)
    assert DeviceTime.from_report({"device_time": {"start": None}}) is None


def test_battery_plot_axis_spans_the_device_time_covered() -> None:
    clock = DeviceTime.from_report(_report())
    plot = battery_plot(_battery_records(), device_time=clock)
    assert plot is not None and plot.axis_start is not None and plot.axis_end is not None
    assert plot.axis_start == pytest.approx(START, abs=1.0)
    assert plot.axis_end - plot.axis_start == pytest.approx(COVERED_S, abs=1.0)
    assert f'data-axis-start="{plot.axis_start:.3f}"' in plot.svg
    assert f'data-axis-end="{plot.axis_end:.3f}"' in plot.svg
    assert "--time-scale 60" in plot.caption_en and "--time-scale 60" in plot.caption_ja


def test_without_the_device_clock_the_axis_spans_harness_time() -> None:
    # What the declaration drew before: the 4 device hours over 4 harness minutes.
    plot = battery_plot(_battery_records())
    assert plot is not None and plot.axis_start is not None and plot.axis_end is not None
    assert plot.axis_end - plot.axis_start < REAL_S * 1.1


def test_a_dr_target_lasts_its_duration_in_device_time() -> None:
    clock = DeviceTime.from_report(_report())
    assert clock is not None
    (segment,) = battery_targets(clock.records(_battery_records()))
    assert segment.start == pytest.approx(clock.at(START + 30.0))
    assert segment.end - segment.start == pytest.approx(3600.0)
    # On the harness's clock the request (3600 device s) would outlast the whole run.
    (unscaled,) = battery_targets(_battery_records())
    assert unscaled.end - unscaled.start != pytest.approx(3600.0)


def test_water_heater_plot_axis_spans_the_device_time_covered() -> None:
    records = [
        {"kind": "measurement", "time": START + 5.0 + 10.0 * i, "values": {"power_w": 500.0 * i}}
        for i in range(24)
    ]
    clock = DeviceTime.from_report(_report())
    plot = water_heater_plot(records, {"night_heating": ["23:00", "07:00"]}, device_time=clock)
    assert plot is not None and plot.axis_start is not None and plot.axis_end is not None
    assert plot.axis_start == pytest.approx(START, abs=1.0)
    assert plot.axis_end - plot.axis_start == pytest.approx(COVERED_S, abs=1.0)


def test_quoted_frames_are_stamped_in_device_time() -> None:
    frame = {"seq": 7, "time": _iso(START + 60.0), "kind": "tx", "summary": "SETC"}
    requirement = {
        "id": "BAT-2.2",
        "verdict": "fail",
        "tests": [{"nodeid": "t::x", "outcome": "failed", "frames": [frame]}],
    }
    clock = DeviceTime.from_report(_report())
    (row,) = requirement_rows([requirement], None, clock)
    hour_later = datetime.fromtimestamp(START + 3600.0, UTC).strftime("%H:%M:%S")
    assert row.tests[0].frames == [f"#7 {hour_later} TX SETC"]


def test_the_report_ends_device_time_at_start_plus_covered() -> None:
    options = run_options(
        profile_path=None,
        simulate=None,
        faults=(),
        report_dir=Path("out"),
        time_scale=SCALE,
        run_id="scaled-1",
    )
    profile = default_profile("battery").on_device_clock(SCALE)
    record = RunRecord(
        options=options,
        profile=profile,
        started_at=START,
        context=RunContext(
            supported_topologies=frozenset(profile.device.topologies),
            run_topology=Topology.GATEWAY,
        ),
        outcomes=(),
        device_time_start=START,
        device_time_end=START + REAL_S,
    )
    document = build_document(record, "0.0-test")
    validate_report(document)
    device_time = document["device_time"]
    assert device_time["covered_s"] == COVERED_S
    assert device_time["start"] == _iso(START)
    assert device_time["end"] == _iso(START + COVERED_S)


#: A loopback address of this test's own for the simulator.
SIMULATOR_HOST = "127.0.0.61"


@pytest.mark.slow
def test_the_declaration_of_a_60x_run_is_drawn_over_its_device_time(tmp_path: Path) -> None:
    # A real --time-scale 60 run against the simulator as its own process over UDP: one DR test
    # (12 device minutes, 12 real seconds) and discovery, then the declaration.
    from drready.report.declaration import render_html
    from tests.helpers import drready_run, simulator_process
    from tests.run.test_external_device import _profile

    with simulator_process(SIMULATOR_HOST, ["--time-scale", "60"]) as simulator:
        profile = _profile(tmp_path, simulator.port, host=SIMULATOR_HOST)
        run_dir = tmp_path / "run"
        done = drready_run(
            profile,
            run_dir,
            "--time-scale",
            "60",
            "--",
            "-k",
            "discovery or target_beyond_rating",
            timeout_s=180,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    covered = report["device_time"]["covered_s"]
    assert covered >= 600.0
    start = datetime.fromisoformat(report["device_time"]["start"]).timestamp()
    end = datetime.fromisoformat(report["device_time"]["end"]).timestamp()
    assert end - start == pytest.approx(covered, abs=0.01)

    html = render_html(run_dir)
    (axis,) = re.findall(
        r'<svg class="plot"[^>]*data-axis-start="([0-9.]+)" data-axis-end="([0-9.]+)"', html
    )
    axis_start, axis_end = float(axis[0]), float(axis[1])
    # The axis spans the device time the report states (not its 1/60 in real time).
    assert axis_start == pytest.approx(start, abs=1.0)
    assert axis_end - axis_start == pytest.approx(covered, abs=1.0)
    hours = f"{covered / 3600:.2f} h"
    assert hours in html  # the conditions table states the same span
