"""BAT-2.1: the battery receives DR requests (target power, duration) at 30-minute intervals or
less.

The series of requests is a scenario shared with BAT-2.2 (:func:`request_series`): the first
request's DR, held for the declared interval until the second one, is what BAT-2.2 judges, so
the two requirements take one DR's device time, not two.
"""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import (
    SharedScenarios,
    dr_mode,
    request_series,
    series_duration_s,
)

from drready.device import BatteryDUT


@pytest.mark.requirement("BAT-2.1")
@pytest.mark.duration(seconds=series_duration_s, shared="request series")
def test_requests_accepted_at_30_minute_and_shorter_intervals(
    dut: BatteryDUT,
    test_power_w: float,
    shared_scenarios: SharedScenarios,
    request: pytest.FixtureRequest,
) -> None:
    series = request_series(dut, shared_scenarios, test_power_w, request.node.nodeid)
    for step in series.steps:
        number, target = step.index + 1, step.target_w
        assert step.ack.accepted, (
            f"request {number} ({target:+.0f} W, {step.gap_s:.0f} s after the previous one) was "
            f"not accepted: {step.ack.detail}"
        )
        assert step.mode == dr_mode(target), (
            f"after request {number} ({target:+.0f} W) the mode setting should be "
            f"{dr_mode(target)}; the device reports {step.mode}"
        )
        assert step.applied_w is not None and abs(step.applied_w - target) <= 1.0, (
            f"after request {number} the device reports a target of {step.applied_w:+.0f} W; "
            f"requested {target:+.0f} W"
        )
