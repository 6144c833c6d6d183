"""BAT-2.1: the battery receives DR requests (target power, duration) at 30-minute intervals or
less.
"""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import dr_mode, plan_power

from drready.device import BatteryDUT


@pytest.mark.requirement("BAT-2.1")
def test_requests_accepted_at_30_minute_and_shorter_intervals(
    dut: BatteryDUT, test_power_w: float
) -> None:
    dut.prepare()
    interval_s = dut.profile.timings.request_interval_s
    # The declared interval (30 min at most, note 2), then ever shorter ones.
    gaps_s = [0.0, interval_s, 600.0, 60.0]
    duration_s = sum(gaps_s) + 2 * interval_s  # every request outlives the next one
    # The direction alternates, so the first request's direction carries the most energy.
    plan = plan_power(dut, test_power_w, sum(gaps_s))
    target = plan.target_w
    for index, gap in enumerate(gaps_s):
        if gap:
            dut.sample(gap)  # keep talking, as a gateway does, until the next request is due
        # Alternate the direction so each request visibly changes what the device must do.
        target = -target if index else target
        ack = dut.request_power(target, duration_s)
        assert ack.accepted, (
            f"request {index + 1} ({target:+.0f} W, {gap:.0f} s after the previous one) was not "
            f"accepted: {ack.detail}"
        )
        mode = dut.read_mode()
        assert mode == dr_mode(target), (
            f"after request {index + 1} ({target:+.0f} W) the mode setting should be "
            f"{dr_mode(target)}; the device reports {mode}"
        )
        applied = dut.read_target_w()
        assert abs(applied - target) <= 1.0, (
            f"after request {index + 1} the device reports a target of {applied:+.0f} W; "
            f"requested {target:+.0f} W"
        )
