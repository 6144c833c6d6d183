"""Heat-pump water heater (HP-2.1 to HP-2.4), over the DUT facade.

The scenarios cover days of device time: a shift requested in the morning for the same day, one
requested in the evening for the next day (across midnight), and a whole day of operation with a
DR shift in it. Each test starts from the device's own state (automatic heating, no DR start time
pending) and withdraws the plan it set (``scenarios.own_state``).
"""

from __future__ import annotations

import pytest
from drready.suites.water_heater import scenarios

from drready.device import WaterHeaterDUT

EVENING_S = 20 * 3600.0


@pytest.mark.requirement("HP-2.1")
def test_dr_possible_amount_is_the_published_share(dut: WaterHeaterDUT) -> None:
    with scenarios.own_state(dut):
        scenarios.check_evaluation_share(dut)


@pytest.mark.requirement("HP-2.2")
def test_start_times_inside_windows_accepted_outside_refused(dut: WaterHeaterDUT) -> None:
    with scenarios.own_state(dut):
        scenarios.check_acceptance(dut)


@pytest.mark.requirement("HP-2.3")
def test_same_day_shift_starts_at_the_requested_time(dut: WaterHeaterDUT) -> None:
    with scenarios.own_state(dut):
        spec = scenarios.spec_of(dut)
        start = scenarios.same_day_start(dut, [spec.evaluation_start_s])
        run = scenarios.run_shift(dut, scenarios.morning_s(dut), start)
        scenarios.check_shift(dut, run)


@pytest.mark.requirement("HP-2.3")
def test_shift_requested_the_evening_before_starts_at_the_requested_time(
    dut: WaterHeaterDUT,
) -> None:
    with scenarios.own_state(dut):
        spec = scenarios.spec_of(dut)
        run = scenarios.run_shift(dut, EVENING_S, spec.evaluation_start_s)
        scenarios.check_shift(dut, run)


@pytest.mark.requirement("HP-2.4")
def test_power_tracks_heating_over_a_day(dut: WaterHeaterDUT) -> None:
    """A day with a DR shift in it, from a reading before the request: the heating status, the
    power and the energy counter agree, and the counter neither resets nor jumps when the DR
    heating starts or ends."""
    with scenarios.own_state(dut):
        scenarios.check_day_with_a_shift(dut)
