"""Hybrid water heater (HY-2.1 to HY-2.4), over the DUT facade.

As the heat-pump suite, plus: the DR-possible amount must follow the requested start time (it is
checked against the heat-pump energy the shift then really draws), and the auxiliary heater must
not do the heat pump's DR heating. Each test starts from the device's own state and withdraws
the plan it set (``scenarios.own_state``).
"""

from __future__ import annotations

import pytest
from drready.suites.water_heater import scenarios

from drready.device import WaterHeaterDUT

EVENING_S = 20 * 3600.0


@pytest.mark.requirement("HY-2.1")
def test_dr_possible_amount_is_the_published_share(dut: WaterHeaterDUT) -> None:
    with scenarios.own_state(dut):
        scenarios.check_evaluation_share(dut)


@pytest.mark.requirement("HY-2.1")
def test_dr_possible_amount_follows_the_start_time(dut: WaterHeaterDUT) -> None:
    """The latest start time leaves the least time to heat before the day's demand: the amount
    the device reports for it must be the energy the shift then draws."""
    with scenarios.own_state(dut):
        spec = scenarios.spec_of(dut)
        latest = spec.windows_s[-1][1]
        run = scenarios.run_shift(dut, EVENING_S, latest, read_amount=True)
        scenarios.check_drawn_is_the_amount(dut, run)


@pytest.mark.requirement("HY-2.2")
def test_start_times_inside_windows_accepted_outside_refused(dut: WaterHeaterDUT) -> None:
    with scenarios.own_state(dut):
        scenarios.check_acceptance(dut)


@pytest.mark.requirement("HY-2.3")
def test_same_day_shift_starts_at_the_requested_time(dut: WaterHeaterDUT) -> None:
    with scenarios.own_state(dut):
        spec = scenarios.spec_of(dut)
        start = scenarios.same_day_start(dut, [spec.evaluation_start_s])
        run = scenarios.run_shift(dut, scenarios.morning_s(dut), start)
        scenarios.check_aux_heater_stays_off(dut, run)
        scenarios.check_shift(dut, run)


@pytest.mark.requirement("HY-2.3")
def test_shift_requested_the_evening_before_starts_at_the_requested_time(
    dut: WaterHeaterDUT,
) -> None:
    with scenarios.own_state(dut):
        spec = scenarios.spec_of(dut)
        run = scenarios.run_shift(dut, EVENING_S, spec.evaluation_start_s)
        scenarios.check_aux_heater_stays_off(dut, run)
        scenarios.check_shift(dut, run)


@pytest.mark.requirement("HY-2.4")
def test_power_tracks_heating_over_a_day(dut: WaterHeaterDUT) -> None:
    """A day with a DR shift in it, from a reading before the request: the heating status, the
    power and the energy counter agree, and the counter neither resets nor jumps when the DR
    heating starts or ends."""
    with scenarios.own_state(dut):
        scenarios.check_day_with_a_shift(dut)
