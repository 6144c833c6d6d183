"""BAT-2.2: the battery charges/discharges according to the target power and the duration."""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import dr_power

from drready.device import BatteryDUT, checks


@pytest.mark.requirement("BAT-2.2")
def test_power_reaches_target_within_response_time_and_holds(
    dut: BatteryDUT, own_mode: str, test_power_w: float
) -> None:
    timings = dut.profile.timings
    duration_s = max(3600.0, 2 * timings.response_s)
    target = dr_power(dut, test_power_w, duration_s)
    allowed = dut.profile.tolerances.power_allowed_w(target)
    # Start from rest in the own mode, so that reaching the target is the device's doing.
    rest = dut.wait_until(lambda s: abs(s.power_w) <= allowed, timings.response_s)
    assert rest is not None, (
        f"before the request the device did not come to rest in its own mode ({own_mode}) "
        f"within the response time of {timings.response_s:.0f} s"
    )
    ack = dut.request_power(target, duration_s)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    # Stop one poll short of the end: the device may already be ramping down at the last tick.
    samples = dut.sample(duration_s - 2 * timings.poll_interval_s)
    settled, problem = checks.settles(samples, target, allowed, timings.response_s)
    assert problem is None, problem
    assert settled is not None
    dut.record_metric("response_s", settled.elapsed_s, "s")
    problem = checks.holds(samples, target, allowed, settled.elapsed_s, samples[-1].elapsed_s)
    assert problem is None, problem


@pytest.mark.requirement("BAT-2.2")
def test_target_beyond_rating_is_clamped_or_refused(dut: BatteryDUT, own_mode: str) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    timings = dut.profile.timings
    window_s = timings.response_s + 300.0
    rated = min(ratings.max_charge_w, ratings.max_discharge_w)
    target = dr_power(dut, 1.5 * rated, window_s)
    limit = ratings.max_charge_w if target > 0 else ratings.max_discharge_w
    dut.request_power(target, window_s + 600.0)  # refusing is as good as clamping
    samples = dut.sample(window_s)
    problem = checks.never_exceeds(samples, limit, dut.profile.tolerances.power_allowed_w(limit))
    assert problem is None, f"asked for {target:+.0f} W, beyond the rating: {problem}"
