"""Helpers of the battery suite that are not fixtures."""

from __future__ import annotations

import pytest

from drready.device import BatteryDUT


def dr_power(dut: BatteryDUT, power_w: float, duration_s: float) -> float:
    """A signed target the battery has room for: discharge if it holds the energy, else charge."""
    status = dut.status()
    need_wh = power_w * duration_s / 3600.0
    if status.dischargeable_wh >= need_wh:
        return -power_w
    if status.chargeable_wh >= need_wh:
        return power_w
    pytest.fail(
        f"the battery can neither discharge nor charge {need_wh:.0f} Wh (dischargeable "
        f"{status.dischargeable_wh:.0f} Wh, chargeable {status.chargeable_wh:.0f} Wh)",
        pytrace=False,
    )


def dr_mode(target_w: float) -> str:
    return "charging" if target_w > 0 else "discharging"
