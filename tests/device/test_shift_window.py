"""The DR start is judged in the sampling window's own time: the samples count their elapsed_s
from the window's start, which over the server topology comes minutes after the request (the
acknowledgement and the plan are each read from a report, one report interval apart)."""

from __future__ import annotations

from drready.suites.water_heater import scenarios
from drready.suites.water_heater.scenarios import ShiftRun

from drready.bindings.types import HeaterSample, HeaterStatus
from drready.device.heater_checks import HeaterRatings, judge_start
from drready.profile.sections import Tolerances

IDLE = HeaterStatus(power_w=0.0, heating=False, aux_on=None, energy_wh=6300.0)
HEATING = HeaterStatus(power_w=1300.0, heating=True, aux_on=None, energy_wh=6300.0)
REQUEST_S = 8 * 3600.0  # 08:00
START_S = 13 * 3600.0  # 13:00
WINDOW_S = REQUEST_S + 600.0  # the first sample, 10 minutes after the request
STEP_S = 300.0


def _run() -> ShiftRun:
    samples = []
    for tick in range(int((START_S + 3600 - WINDOW_S) // STEP_S)):
        elapsed = tick * STEP_S
        tod = WINDOW_S + elapsed
        samples.append(HeaterSample(elapsed, tod, HEATING if tod >= START_S else IDLE))
    return ShiftRun(REQUEST_S, START_S, START_S, samples, None, None, WINDOW_S - REQUEST_S)


def test_the_start_is_placed_in_the_window_not_after_the_request() -> None:
    run = _run()
    assert run.ahead_s == START_S - REQUEST_S
    assert run.start_elapsed_s == START_S - WINDOW_S
    ratings = HeaterRatings(
        rated_w=1300.0,
        interval_s=STEP_S,
        tolerances=Tolerances(time_s=300.0),
        heating_fraction=scenarios.HEATING_FRACTION,
    )
    night = (23 * 3600.0, 7 * 3600.0)
    on_time = judge_start(
        run.samples, start_s=run.start_elapsed_s, tolerance_s=300.0, night=night, ratings=ratings
    )
    assert on_time.outcome == "pass", on_time.text()
    # Judged from the request, the heating at 13:00 would look 10 minutes early: the false fail
    # a device reporting every 5 minutes got.
    early = judge_start(
        run.samples, start_s=run.ahead_s, tolerance_s=300.0, night=night, ratings=ratings
    )
    assert early.outcome == "fail", early.text()
