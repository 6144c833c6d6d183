"""BAT-2.2 and BAT-2.5 against an independent power meter: what the device says it does is
compared with what a meter of the lab's own measures (profile [meter]), within its accuracy."""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import plan_power

from drready.device import BatteryDUT

#: Device time the DR runs while both witnesses are read.
WINDOW_S = 1800.0


@pytest.mark.requirement("BAT-2.2", "BAT-2.5")
def test_reported_power_matches_the_independent_meter(dut: BatteryDUT, test_power_w: float) -> None:
    meter = dut.profile.meter
    if meter is None:
        pytest.skip("no independent meter in the profile ([meter]): power not witnessed")
    timings = dut.profile.timings
    dut.prepare()
    plan = plan_power(dut, test_power_w, WINDOW_S)
    target = plan.target_w
    ack = dut.request_power(target, WINDOW_S + timings.response_s)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    samples = dut.sample(WINDOW_S)
    flowing = 0
    for sample in samples:
        reported, measured = sample.status.power_w, sample.status.meter_power_w
        assert measured is not None, "the meter gave no reading"
        allowed = meter.allowed_w(measured)
        assert abs(reported - measured) <= allowed, (
            f"at +{sample.elapsed_s:.0f} s the device reports {reported:+.0f} W, the independent "
            f"meter measures {measured:+.0f} W (allowed ± {allowed:.0f} W)"
        )
        flowing += abs(measured) > dut.profile.tolerances.power_w
    assert flowing, f"the meter saw no power flow during a DR of {target:+.0f} W"
