"""BAT-2.3 (chargeable/dischargeable energy) and BAT-2.4 (backup reserve)."""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import energy_wh, make_room, standard_power_w

from drready.bindings.types import Sample, Status
from drready.device import BatteryDUT, checks
from drready.errors import Inconclusive
from drready.profile import Profile

#: Energy that must move before the direction of the amounts is judged: ten times the 0xA4/0xA5
#: resolution of 1 Wh, and more than SoC rounding can fake.
MIN_MOVED_WH = 100.0
#: The longest and shortest window of the amounts' direction (device time).
MOVE_WINDOW_S = 600.0
MIN_MOVE_WINDOW_S = 120.0
MAX_WINDOWS = 6
#: Lowest reserve the reserve test sets, and how far under the SoC it sets it (percent).
LOWEST_RESERVE_PCT = 5.0
RESERVE_BELOW_SOC_PCT = 5.0
#: How long the reserve test watches after the SoC reached the reserve, at most and at least
#: (device time).
AT_RESERVE_S = 900.0
MIN_AT_RESERVE_S = 300.0
#: SoC steps the rated discharge must have had time to pass under the reserve while watched:
#: two steps under it are a breach (one is rounding), and one more.
AT_RESERVE_STEPS = 3


def move_window_s(profile: Profile) -> float:
    """How long the battery runs in each direction to show that the amounts move (device
    time): twice the time the test power takes to move :data:`MIN_MOVED_WH`, and the response
    time, between the bounds. A battery that needs longer gets further windows."""
    moving_s = 2 * MIN_MOVED_WH * 3600.0 / standard_power_w(profile) + profile.timings.response_s
    return min(MOVE_WINDOW_S, max(MIN_MOVE_WINDOW_S, moving_s))


def at_reserve_s(profile: Profile) -> float:
    """How long the reserve test watches at the reserve: the time the rated discharge takes to
    pass :data:`AT_RESERVE_STEPS` SoC steps (0xE4 is whole percent), between the bounds."""
    ratings = profile.ratings
    assert ratings is not None
    steps_wh = AT_RESERVE_STEPS * ratings.capacity_wh / 100.0
    passing_s = steps_wh / ratings.max_discharge_w * 3600.0
    return min(AT_RESERVE_S, max(MIN_AT_RESERVE_S, passing_s))


def reserve_duration_s(profile: Profile) -> float:
    """The discharge from RESERVE_BELOW_SOC_PCT above the reserve at the rated power (a device
    that ramps slowly takes longer), then the watch at the reserve."""
    ratings = profile.ratings
    assert ratings is not None
    energy_wh = RESERVE_BELOW_SOC_PCT / 100.0 * ratings.capacity_wh
    discharge_s = energy_wh / ratings.max_discharge_w * 3600.0
    return discharge_s + at_reserve_s(profile)


def _expected_amounts(status: Status, capacity_wh: float) -> tuple[float, float]:
    stored = capacity_wh * status.soc_pct / 100.0
    reserve = capacity_wh * status.reserve_pct / 100.0
    return capacity_wh - stored, max(0.0, stored - reserve)


@pytest.mark.requirement("BAT-2.3")
def test_amounts_consistent_with_soc_capacity_and_reserve(dut: BatteryDUT) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    status = dut.prepare()
    chargeable, dischargeable = _expected_amounts(status, ratings.capacity_wh)
    # SoC (0xE4) is reported in whole percent: allow that step on top of the energy tolerance.
    allowed = dut.profile.tolerances.energy_allowed_wh(ratings.capacity_wh * 0.01) + (
        ratings.capacity_wh * 0.01
    )
    assert abs(status.chargeable_wh - chargeable) <= allowed, (
        f"chargeable energy should be capacity - stored = {chargeable:.0f} Wh ± {allowed:.0f} Wh "
        f"(SoC {status.soc_pct:.0f} %, capacity {ratings.capacity_wh:.0f} Wh); "
        f"the device reports {status.chargeable_wh:.0f} Wh"
    )
    assert abs(status.dischargeable_wh - dischargeable) <= allowed, (
        f"dischargeable energy should be stored - reserve = {dischargeable:.0f} Wh ± "
        f"{allowed:.0f} Wh (SoC {status.soc_pct:.0f} %, reserve {status.reserve_pct:.0f} %); "
        f"the device reports {status.dischargeable_wh:.0f} Wh"
    )


@pytest.mark.requirement("BAT-2.3")
@pytest.mark.duration(seconds=move_window_s)
@pytest.mark.parametrize("mode", ["charging", "discharging"])
def test_amounts_move_the_right_way(dut: BatteryDUT, mode: str, test_power_w: float) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    dut.prepare()
    want = 1 if mode == "charging" else -1
    own_modes = dut.capabilities.own_direction_modes
    # The device's own charging/discharging modes (0xDA) run at the rated power; without them
    # (SunSpec) a DR of the same direction moves the energy.
    power = (
        (ratings.max_charge_w if want > 0 else ratings.max_discharge_w)
        if own_modes
        else (test_power_w)
    )
    window_s = move_window_s(dut.profile)
    make_room(dut, want, 2 * energy_wh(power, window_s))
    if own_modes:
        dut.set_own_mode(mode)
    else:
        ack = dut.request_power(want * test_power_w, window_s * MAX_WINDOWS)
        assert ack.accepted, f"the {mode} DR request was not accepted: {ack.detail}"
    # Judge one window in which energy clearly flowed the way the mode asks, by the witnesses
    # that agree; a device still ramping out of the previous mode gets further windows.
    net = 0.0
    for _ in range(MAX_WINDOWS):
        samples: list[Sample] = dut.sample(window_s)
        net = dut.execution(samples).net_wh
        if net * want >= MIN_MOVED_WH:
            break
    else:
        raise Inconclusive(
            f"in {mode} less than {MIN_MOVED_WH:.0f} Wh flowed that way in any of "
            f"{MAX_WINDOWS} windows of {window_s:.0f} s (the last: {net:+.0f} Wh): the "
            "battery does not move energy when asked, so the amounts cannot be judged",
            cause="BAT-2.2",
        )
    first, last = samples[0].status, samples[-1].status
    sign = -1 if mode == "charging" else 1
    for name, direction in (("chargeable_wh", sign), ("dischargeable_wh", -sign)):
        before, after = getattr(first, name), getattr(last, name)
        assert (after - before) * direction > 0, (
            f"while {mode} ({net:+.0f} Wh moved), {name.replace('_wh', ' energy')} should "
            f"{'rise' if direction > 0 else 'fall'}; it went from {before:.0f} Wh to "
            f"{after:.0f} Wh over {samples[-1].elapsed_s:.0f} s"
        )


@pytest.mark.requirement("BAT-2.4")
def test_backup_reserve_change_is_reported(dut: BatteryDUT) -> None:
    before = dut.prepare().reserve_pct
    new = before + 10 if before <= 50 else before - 10
    dut.set_backup_reserve_pct(new)
    reported = dut.status().reserve_pct
    assert abs(reported - new) < 1.0, (
        f"backup reserve set from {before:.0f} % to {new:.0f} %; the device still reports "
        f"{reported:.0f} %"
    )


@pytest.mark.requirement("BAT-2.4")
@pytest.mark.duration(seconds=reserve_duration_s)
def test_dr_discharge_stops_at_backup_reserve(dut: BatteryDUT) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    timings = dut.profile.timings
    status = dut.prepare()
    least_soc = LOWEST_RESERVE_PCT + RESERVE_BELOW_SOC_PCT + 1.0
    if status.soc_pct < least_soc:
        # Charge first: room to discharge down to the present reserve, up to that SoC.
        need = (least_soc + 1.0 - status.reserve_pct) / 100.0 * ratings.capacity_wh
        status = make_room(dut, -1, need)
    # Put the reserve a few percent under the present SoC, so the discharge reaches it quickly.
    reserve = max(LOWEST_RESERVE_PCT, float(round(status.soc_pct)) - RESERVE_BELOW_SOC_PCT)
    if reserve >= status.soc_pct:
        raise Inconclusive(f"SoC {status.soc_pct:.0f} % is too low to test the reserve")
    # Not read back: whether the reserve is reported is the other test's to judge; whether it
    # holds is this one's.
    dut.set_backup_reserve_pct(reserve)
    energy = (status.soc_pct - reserve) / 100.0 * ratings.capacity_wh
    # Twice the time the rated power needs, and the response time; a slow device gets four
    # times that to reach the reserve before the test gives up on it.
    window_s = 2 * energy / ratings.max_discharge_w * 3600.0 + timings.response_s
    watch_s = at_reserve_s(dut.profile)
    ack = dut.request_power(-ratings.max_discharge_w, 4 * window_s + watch_s + 600.0)
    assert ack.accepted, f"the DR discharge request was not accepted: {ack.detail}"
    # 0xE4 is whole percent: SoC reads the reserve once the battery is within half a step.
    reached = dut.wait_until(lambda s: s.soc_pct <= reserve + 0.5, 4 * window_s)
    if reached is None:
        now = dut.status()
        raise Inconclusive(
            f"a DR discharge at {ratings.max_discharge_w:.0f} W did not bring the SoC from "
            f"{status.soc_pct:.0f} % to the reserve of {reserve:.0f} % in {4 * window_s:.0f} s "
            f"(SoC {now.soc_pct:.0f} %): whether it stops there cannot be judged",
            cause="BAT-2.2",
        )
    after = dut.sample(watch_s)
    lowest = min([reached, *after], key=lambda s: s.status.soc_pct)
    # One step below the reserve is rounding, two is a breach.
    assert lowest.status.soc_pct >= reserve - 1.0, (
        f"backup reserve {reserve:.0f} %: the DR discharge should stop there; the SoC reached "
        f"{lowest.status.soc_pct:.0f} % at {checks.at(lowest)} after the reserve"
    )
