"""BAT-2.6 (back to own mode after DR) and BAT-2.7 (back to own mode when communication is lost).

A return is judged only after a DR that visibly moved energy: a device that takes the request
but never moves its power has nothing to return from (that is BAT-2.2's failure, and this test
is inconclusive because of it).
"""

from __future__ import annotations

import math

import pytest
from drready.suites.battery.helpers import (
    OWN_WINDOW_S,
    dr_mode,
    joined,
    plan_power,
    require_moved,
    standard_power_w,
)

from drready.bindings.types import Sample
from drready.device import BatteryDUT
from drready.errors import Inconclusive
from drready.profile import Profile, Timings

#: How long BAT-2.7 keeps polling, at most, for the DR to visibly move energy before the cut,
#: on top of twice the response time (device time).
MOVE_GRACE_S = 600.0
#: Beyond twice the response time, how long BAT-2.6's DR runs: long enough to move energy
#: clearly (a tenth of it at least, :func:`require_moved`), as the return is judged only after a
#: DR that did something; the requirement prescribes no duration (device time).
RESTORE_DR_EXTRA_S = 300.0


def restore_dr_s(timings: Timings) -> float:
    return 2 * timings.response_s + RESTORE_DR_EXTRA_S


def restore_duration_s(profile: Profile) -> float:
    timings = profile.timings
    return OWN_WINDOW_S + restore_dr_s(timings) + timings.dr_end_restore_s


def cut_step_s(timings: Timings) -> float:
    """BAT-2.7 polls in steps this long until the DR visibly moved energy, then falls silent:
    the response time (a device reaches its target within it), bounded by 60 s and 300 s."""
    return min(300.0, timings.comms_loss_timeout_s / 2, max(60.0, timings.response_s))


def comms_loss_duration_s(profile: Profile) -> float:
    timings = profile.timings
    # A device at its target soon after the request moves the energy tolerance (what
    # :func:`require_moved` asks) at the test power in this many steps; a slow one takes more.
    steps = max(1, math.ceil(energy_wh_to_s(profile) / cut_step_s(timings)))
    silence_s = timings.comms_loss_timeout_s + timings.dr_end_restore_s
    return OWN_WINDOW_S + steps * cut_step_s(timings) + silence_s


def energy_wh_to_s(profile: Profile) -> float:
    """Seconds the test power takes to move the energy tolerance."""
    return profile.tolerances.energy_wh * 3600.0 / standard_power_w(profile)


# BAT-2.6 starts a DR from every own mode the profile declares.
@pytest.mark.requirement("BAT-2.6")
@pytest.mark.duration(seconds=restore_duration_s)
@pytest.mark.from_profile(
    "starting_mode", lambda profile: profile.device.own_modes, default=("auto", "standby")
)
def test_returns_to_previous_mode_after_dr(
    dut: BatteryDUT, test_power_w: float, starting_mode: str
) -> None:
    timings = dut.profile.timings
    duration_s = restore_dr_s(timings)
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
@pytest.mark.duration(seconds=comms_loss_duration_s)
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
    step_s = cut_step_s(timings)
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
