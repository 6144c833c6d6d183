"""BAT-2.5: measured charge/discharge power and cumulative energy.

The counters are read before each DR request and after its end, so a counter that restarts or
jumps when a DR starts or ends fails here; both directions are run, so each counter is seen
moving. Every witness of the flow (power, counters, working status) must tell the same story.
"""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import OWN_WINDOW_S, energy_wh, joined, plan_power, room

from drready.bindings.types import NotApplicable, Sample
from drready.device import BatteryDUT, checks
from drready.errors import Inconclusive
from drready.profile import Profile, Timings

#: Each direction's DR: long enough to cross several counter steps and any periodic fault
#: (device time); two of them make half an hour.
WINDOW_S = 900.0
#: Readings taken before each request, one poll apart.
BEFORE_POLLS = 2


def measurements_duration_s(profile: Profile) -> float:
    """The own mode watched, then each direction: readings before, the DR, its end."""
    timings = profile.timings
    one = BEFORE_POLLS * timings.poll_interval_s + _after_s(timings)
    return OWN_WINDOW_S + 2 * one


def _after_s(timings: Timings) -> float:
    return WINDOW_S + timings.dr_end_restore_s + 3 * timings.poll_interval_s


def _run_dr(dut: BatteryDUT, target: float) -> tuple[list[Sample], list[Sample]]:
    """(the series from before the request to after the DR's end, the readings during it)."""
    timings = dut.profile.timings
    before = dut.sample(BEFORE_POLLS * timings.poll_interval_s)
    ack = dut.request_power(target, WINDOW_S)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    through = dut.sample(_after_s(timings))
    during = [s for s in through if s.elapsed_s <= WINDOW_S]
    return joined(before, through, dut.time_scale), during


@pytest.mark.requirement("BAT-2.5")
@pytest.mark.duration(seconds=measurements_duration_s)
def test_power_sign_and_energy_counters_match(dut: BatteryDUT, test_power_w: float) -> None:
    tolerances = dut.profile.tolerances
    dut.prepare()
    first = plan_power(dut, test_power_w, WINDOW_S).target_w
    for target in (first, -first):
        status = dut.status()
        if room(dut, status).toward(target) < energy_wh(target, WINDOW_S):
            raise Inconclusive(
                f"after the first DR, too little room for {energy_wh(target, WINDOW_S):.0f} Wh "
                f"the other way (SoC {status.soc_pct:.0f} %)"
            )
        series, during = _run_dr(dut, target)
        flowing = [s for s in during if abs(s.status.power_w) > tolerances.power_w]
        assert flowing, (
            f"no power above {tolerances.power_w:.0f} W was reported during the DR of "
            f"{target:+.0f} W"
        )
        if series[0].status.charged_wh is None or series[0].status.discharged_wh is None:
            raise NotApplicable(
                f"cumulative energy: the device has no energy counters over "
                f"{dut.binding.protocol} (SunSpec models 802 and 124 define none; a register map "
                "may give charged_wh and discharged_wh); the reported power is checked against "
                "the meter where one is declared"
            )
        _judge(dut, series, target)


def _judge(dut: BatteryDUT, series: list[Sample], target: float) -> None:
    tolerances = dut.profile.tolerances
    where = f" (DR of {target:+.0f} W)"
    # The sign of the power must agree with the counter that moves: + charges, - discharges.
    problem = checks.power_sign_matches_counters(series, tolerances.power_w)
    assert problem is None, problem + where

    # From before the request to after the end: a reset or a jump at either edge shows here.
    problem = checks.monotonic_counters(series)
    assert problem is None, problem + where

    charged, discharged = checks.integrate_wh(series, dut.max_gap_s)
    first, last = series[0].status, series[-1].status
    assert first.charged_wh is not None and first.discharged_wh is not None
    assert last.charged_wh is not None and last.discharged_wh is not None
    for label, integral, counted in (
        ("charge", charged, last.charged_wh - first.charged_wh),
        ("discharge", discharged, last.discharged_wh - first.discharged_wh),
    ):
        # The counters step in whole Wh (0.001 kWh): one step either side is resolution.
        allowed = tolerances.energy_allowed_wh(integral) + 2.0
        assert abs(counted - integral) <= allowed, (
            f"the cumulative {label} counter rose {counted:.0f} Wh from {checks.at(series[0])} "
            f"to {checks.at(series[-1])}; the reported power integrates to {integral:.0f} Wh "
            f"(allowed ± {allowed:.0f} Wh){where}"
        )

    judged = dut.execution(series)
    assert not judged.disagreements, "; ".join(d.summary for d in judged.disagreements) + where
