"""Hybrid water heater (HY-2.1 to HY-2.4), over the DUT facade.

As the heat-pump suite, plus: the DR-possible amount must follow the requested start time (it is
checked against the heat-pump energy the shift then really draws), and the auxiliary heater must
not do the heat pump's DR heating.
"""

from __future__ import annotations

import pytest
from drready.suites.water_heater import scenarios

from drready.device import WaterHeaterDUT
from drready.timeofday import tod_text

EVENING_S = 20 * 3600.0


@pytest.mark.requirement("HY-2.1")
def test_dr_possible_amount_is_the_published_share(dut: WaterHeaterDUT) -> None:
    scenarios.check_evaluation_share(dut)


@pytest.mark.requirement("HY-2.1")
def test_dr_possible_amount_follows_the_start_time(dut: WaterHeaterDUT) -> None:
    """The latest start time leaves the least time to heat before the day's demand: the amount
    the device reports for it must be the energy the shift then draws."""
    spec = scenarios.spec_of(dut)
    latest = spec.windows_s[-1][1]
    run = scenarios.run_shift(dut, EVENING_S, latest, read_amount=True)
    assert run.dr_possible_wh is not None
    drawn = scenarios.shift_energy_wh(dut, run)
    dut.record_metric("dr_possible_wh", run.dr_possible_wh, "Wh")
    dut.record_metric("shift_energy_wh", drawn, "Wh")
    allowed = dut.profile.tolerances.energy_allowed_wh(run.dr_possible_wh)
    assert abs(drawn - run.dr_possible_wh) <= allowed, (
        f"for a start at {tod_text(latest)} the device reported a DR-possible amount of "
        f"{run.dr_possible_wh:.0f} Wh, but the shift drew {drawn:.0f} Wh "
        f"(allowed difference {allowed:.0f} Wh)"
    )


@pytest.mark.requirement("HY-2.2")
def test_start_times_inside_windows_accepted_outside_refused(dut: WaterHeaterDUT) -> None:
    scenarios.check_acceptance(dut)


@pytest.mark.requirement("HY-2.3")
def test_same_day_shift_starts_at_the_requested_time(dut: WaterHeaterDUT) -> None:
    spec = scenarios.spec_of(dut)
    start = scenarios.same_day_start(dut, [spec.evaluation_start_s])
    run = scenarios.run_shift(dut, scenarios.morning_s(dut), start)
    scenarios.check_aux_heater_stays_off(dut, run)
    scenarios.check_shift(dut, run)


@pytest.mark.requirement("HY-2.3")
def test_shift_requested_the_evening_before_starts_at_the_requested_time(
    dut: WaterHeaterDUT,
) -> None:
    spec = scenarios.spec_of(dut)
    run = scenarios.run_shift(dut, EVENING_S, spec.evaluation_start_s)
    scenarios.check_aux_heater_stays_off(dut, run)
    scenarios.check_shift(dut, run)


@pytest.mark.requirement("HY-2.4")
def test_power_tracks_heating_over_a_day(dut: WaterHeaterDUT) -> None:
    samples = dut.sample_heater(24 * 3600.0)
    scenarios.check_power_tracks_heating(dut, samples)
