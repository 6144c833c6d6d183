"""BAT-2.6 (back to own mode after DR) and BAT-2.7 (back to own mode when communication is lost).

A return is judged only after a DR that visibly moved energy: a device that takes the request
but never moves its power has nothing to return from (that is BAT-2.2's failure, and this test
is inconclusive because of it).
"""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import dr_mode, joined, plan_power, require_moved

from drready.bindings.types import Sample
from drready.device import BatteryDUT
from drready.errors import Inconclusive

#: How long BAT-2.7 keeps polling, at most, for the DR to visibly move energy before the cut,
#: on top of twice the response time (device time).
MOVE_GRACE_S = 600.0


# BAT-2.6 starts a DR from every own mode the profile declares.
@pytest.mark.requirement("BAT-2.6")
@pytest.mark.from_profile(
    "starting_mode", lambda profile: profile.device.own_modes, default=("auto", "standby")
)
def test_returns_to_previous_mode_after_dr(
    dut: BatteryDUT, test_power_w: float, starting_mode: str
) -> None:
    timings = dut.profile.timings
    duration_s = 1200.0
    try:
        dut.prepare(own_mode=starting_mode)
    except Inconclusive as exc:
        if exc.cause == "BAT-2.6":
            # Released from a DR, the device kept executing it: that is this requirement's
            # failure, seen before this test could start its own DR.
            pytest.fail(exc.reason, pytrace=False)
        raise
    plan = plan_power(dut, test_power_w, duration_s)
    target = plan.target_w
    ack = dut.request_power(target, duration_s)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    in_dr = dut.read_mode()
    assert in_dr == dr_mode(target), f"during DR the mode should be {dr_mode(target)}, not {in_dr}"
    # Keep polling through the DR: silence would be a comms loss, which is BAT-2.7's business.
    samples = dut.sample(duration_s)
    require_moved(dut, samples, target, f"the return to {starting_mode} after the DR")
    back = dut.wait_until(lambda s: s.mode == starting_mode, timings.dr_end_restore_s)
    if back is None:
        mode = dut.read_mode()
        pytest.fail(
            f"DR of {duration_s:.0f} s from own mode {starting_mode} ended at +{duration_s:.0f} s; "
            f"{timings.dr_end_restore_s:.0f} s later the device is in {mode}, "
            f"expected {starting_mode}",
            pytrace=False,
        )
    dut.record_metric("restore_s", back.elapsed_s, "s")


@pytest.mark.requirement("BAT-2.7")
def test_returns_to_own_mode_when_communication_is_lost(
    dut: BatteryDUT, test_power_w: float
) -> None:
    timings = dut.profile.timings
    own_mode = dut.normal_own_mode
    dut.prepare()
    silence_s = timings.comms_loss_timeout_s + timings.dr_end_restore_s
    before_cut_s = 2 * timings.response_s + MOVE_GRACE_S
    plan = plan_power(dut, test_power_w, before_cut_s + silence_s)
    target = plan.target_w
    # No duration: only the loss of communication may end this DR.
    ack = dut.request_power(target, None)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    # Poll until the DR visibly moves energy (a slow device gets time), then fall silent.
    samples: list[Sample] = []
    step_s = min(300.0, timings.comms_loss_timeout_s / 2)
    while True:
        samples = joined(samples, dut.sample(step_s), dut.time_scale)
        try:
            require_moved(dut, samples, target, "the return to the own mode on comms loss")
            break
        except Inconclusive:
            if samples[-1].elapsed_s - samples[0].elapsed_s >= before_cut_s:
                raise
    mode = dut.read_mode()
    assert mode == dr_mode(target), f"during DR the mode should be {dr_mode(target)}, not {mode}"
    with dut.comms_cut():
        dut.wait(silence_s)
    after = dut.read_mode()
    assert after == own_mode, (
        f"the harness fell silent in the middle of a DR for {silence_s:.0f} s (comms-loss "
        f"timeout {timings.comms_loss_timeout_s:.0f} s + {timings.dr_end_restore_s:.0f} s); "
        f"the device is still in {after}, expected its own mode {own_mode}"
    )
