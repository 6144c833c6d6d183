"""BAT-2.6 (back to own mode after DR) and BAT-2.7 (back to own mode when communication is lost)."""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import dr_mode, dr_power

from drready.device import DeviceUnderTest


# BAT-2.6 starts a DR from every own mode the profile declares.
@pytest.mark.requirement("BAT-2.6")
@pytest.mark.from_profile(
    "starting_mode", lambda profile: profile.device.own_modes, default=("auto", "standby")
)
def test_returns_to_previous_mode_after_dr(
    dut: DeviceUnderTest, own_mode: str, test_power_w: float, starting_mode: str
) -> None:
    timings = dut.profile.timings
    duration_s = 1200.0
    dut.set_own_mode(starting_mode)
    assert dut.read_mode() == starting_mode, f"the device did not take own mode {starting_mode}"
    target = dr_power(dut, test_power_w, duration_s)
    ack = dut.request_power(target, duration_s)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    in_dr = dut.read_mode()
    assert in_dr == dr_mode(target), f"during DR the mode should be {dr_mode(target)}, not {in_dr}"
    # Keep polling through the DR: silence would be a comms loss, which is BAT-2.7's business.
    dut.sample(duration_s)
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
    dut: DeviceUnderTest, own_mode: str, test_power_w: float
) -> None:
    timings = dut.profile.timings
    silence_s = timings.comms_loss_timeout_s + timings.dr_end_restore_s
    target = dr_power(dut, test_power_w, silence_s + 600.0)
    # No duration: only the loss of communication may end this DR.
    ack = dut.request_power(target, None)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    dut.sample(min(300.0, timings.comms_loss_timeout_s / 2))
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
