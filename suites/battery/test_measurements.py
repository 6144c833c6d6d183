"""BAT-2.5: measured charge/discharge power and cumulative energy."""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import dr_power

from drready.bindings.types import NotApplicable
from drready.device import BatteryDUT, checks

#: Long enough to cross several counter steps and any periodic fault (device time).
WINDOW_S = 1800.0


@pytest.mark.requirement("BAT-2.5")
def test_power_sign_and_energy_counters_match(
    dut: BatteryDUT, own_mode: str, test_power_w: float
) -> None:
    timings = dut.profile.timings
    tolerances = dut.profile.tolerances
    target = dr_power(dut, test_power_w, WINDOW_S)
    ack = dut.request_power(target, WINDOW_S + timings.response_s + 600.0)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    samples = dut.sample(WINDOW_S)
    flowing = [s for s in samples if abs(s.status.power_w) > tolerances.power_w]
    assert flowing, f"no power above {tolerances.power_w:.0f} W was reported during the DR"
    if samples[0].status.charged_wh is None or samples[0].status.discharged_wh is None:
        raise NotApplicable(
            f"cumulative energy: the device has no energy counters over {dut.binding.protocol} "
            "(SunSpec models 802 and 124 define none; a register map may give charged_wh and "
            "discharged_wh); the reported power is checked against the meter where one is "
            "declared"
        )

    # The sign of the power must agree with the counter that moves: + charges, - discharges.
    problem = checks.power_sign_matches_counters(samples, tolerances.power_w)
    assert problem is None, problem

    problem = checks.monotonic_counters(samples)
    assert problem is None, problem

    charged, discharged = checks.integrate_wh(samples)
    first, last = samples[0].status, samples[-1].status
    for label, integral, counted in (
        ("charge", charged, last.charged_wh - first.charged_wh),
        ("discharge", discharged, last.discharged_wh - first.discharged_wh),
    ):
        # The counters step in whole Wh (0.001 kWh): one step either side is resolution.
        allowed = tolerances.energy_allowed_wh(integral) + 2.0
        assert abs(counted - integral) <= allowed, (
            f"the cumulative {label} counter rose {counted:.0f} Wh over "
            f"{samples[-1].elapsed_s:.0f} s; the reported power integrates to {integral:.0f} Wh "
            f"(allowed ± {allowed:.0f} Wh)"
        )
