"""BAT-2.3 (chargeable/dischargeable energy) and BAT-2.4 (backup reserve)."""

from __future__ import annotations

import pytest

from drready.bindings.types import Sample, Status
from drready.device import BatteryDUT, checks

#: How long the battery runs in each direction to show that the amounts move (device time).
MOVE_WINDOW_S = 600.0
#: Energy that must move before the direction of the amounts is judged: ten times the 0xA4/0xA5
#: resolution of 1 Wh, and more than SoC rounding can fake.
MIN_MOVED_WH = 100.0
MAX_WINDOWS = 6


def _net_flow_wh(samples: list[Sample]) -> float:
    """Energy into the battery over the window (+ charged, - discharged): by its own counters,
    or, for a device without them (SunSpec model 802), by the power it reports."""
    first, last = samples[0].status, samples[-1].status
    if first.charged_wh is None or first.discharged_wh is None:
        charged, discharged = checks.integrate_wh(samples)
        return charged - discharged
    assert last.charged_wh is not None and last.discharged_wh is not None
    return (last.charged_wh - first.charged_wh) - (last.discharged_wh - first.discharged_wh)


def _expected_amounts(status: Status, capacity_wh: float) -> tuple[float, float]:
    stored = capacity_wh * status.soc_pct / 100.0
    reserve = capacity_wh * status.reserve_pct / 100.0
    return capacity_wh - stored, max(0.0, stored - reserve)


@pytest.mark.requirement("BAT-2.3")
def test_amounts_consistent_with_soc_capacity_and_reserve(dut: BatteryDUT) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    status = dut.status()
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
@pytest.mark.parametrize("mode", ["charging", "discharging"])
def test_amounts_move_the_right_way(
    dut: BatteryDUT, own_mode: str, mode: str, test_power_w: float
) -> None:
    if dut.capabilities.own_direction_modes:
        dut.set_own_mode(mode)  # the device's own charging/discharging modes (0xDA)
    else:
        # SunSpec has no own charging mode: a DR of the same direction moves the energy.
        sign = 1 if mode == "charging" else -1
        window_s = MOVE_WINDOW_S * MAX_WINDOWS
        ack = dut.request_power(sign * test_power_w, window_s)
        assert ack.accepted, f"the {mode} DR request was not accepted: {ack.detail}"
    want = 1 if mode == "charging" else -1
    # Judge one window in which energy clearly flowed the way the mode asks; a device still
    # ramping out of the previous mode gets further windows.
    for _ in range(MAX_WINDOWS):
        samples = dut.sample(MOVE_WINDOW_S)
        if _net_flow_wh(samples) * want >= MIN_MOVED_WH:
            break
    else:
        pytest.fail(
            f"in own mode {mode} less than {MIN_MOVED_WH:.0f} Wh flowed that way in any of "
            f"{MAX_WINDOWS} windows of {MOVE_WINDOW_S:.0f} s: too little to judge the amounts",
            pytrace=False,
        )
    first, last = samples[0].status, samples[-1].status
    sign = -1 if mode == "charging" else 1
    for name, direction in (("chargeable_wh", sign), ("dischargeable_wh", -sign)):
        before, after = getattr(first, name), getattr(last, name)
        assert (after - before) * direction > 0, (
            f"while {mode}, {name.replace('_wh', ' energy')} should "
            f"{'rise' if direction > 0 else 'fall'}; it went from {before:.0f} Wh to "
            f"{after:.0f} Wh over {samples[-1].elapsed_s:.0f} s"
        )


@pytest.mark.requirement("BAT-2.4")
def test_backup_reserve_change_is_reported(dut: BatteryDUT) -> None:
    before = dut.status().reserve_pct
    new = before + 10 if before <= 50 else before - 10
    dut.set_backup_reserve_pct(new)
    try:
        reported = dut.status().reserve_pct
        assert abs(reported - new) < 1.0, (
            f"backup reserve set from {before:.0f} % to {new:.0f} %; the device still reports "
            f"{reported:.0f} %"
        )
    finally:
        dut.set_backup_reserve_pct(before)


@pytest.mark.requirement("BAT-2.4")
def test_dr_discharge_stops_at_backup_reserve(dut: BatteryDUT, own_mode: str) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    status = dut.status()
    original = status.reserve_pct
    # Put the reserve a few percent under the present SoC, so the discharge reaches it quickly.
    reserve = max(5.0, float(round(status.soc_pct)) - 5.0)
    if reserve >= status.soc_pct:
        pytest.fail(f"SoC {status.soc_pct:.0f} % is too low to test the reserve", pytrace=False)
    dut.set_backup_reserve_pct(reserve)
    try:
        energy_wh = (status.soc_pct - reserve) / 100.0 * ratings.capacity_wh
        window_s = 2 * energy_wh / ratings.max_discharge_w * 3600.0 + dut.profile.timings.response_s
        ack = dut.request_power(-ratings.max_discharge_w, window_s + 600.0)
        assert ack.accepted, f"the DR discharge request was not accepted: {ack.detail}"
        samples = dut.sample(window_s)
        lowest = min(samples, key=lambda s: s.status.soc_pct)
        # 0xE4 is whole percent: one step below the reserve is rounding, two is a breach.
        assert lowest.status.soc_pct >= reserve - 1.0, (
            f"backup reserve {reserve:.0f} %: DR discharge should stop there; SoC reached "
            f"{lowest.status.soc_pct:.0f} % at +{lowest.elapsed_s:.0f} s"
        )
    finally:
        dut.set_own_mode(own_mode)
        dut.set_backup_reserve_pct(original)
