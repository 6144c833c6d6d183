"""Shared set-up of the battery suite: the test power, and a clean own mode after each DR test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drready.device import BatteryDUT


@pytest.fixture(scope="session")
def test_power_w(dut: BatteryDUT) -> float:
    """Half the smaller rated power: far from both ratings, so clamping cannot hide an error."""
    ratings = dut.profile.ratings
    assert ratings is not None, "the battery profile has no [ratings] table"
    return 0.5 * min(ratings.max_charge_w, ratings.max_discharge_w)


@pytest.fixture
def own_mode(dut: BatteryDUT) -> Iterator[str]:
    """Put the device in its normal own mode (the profile's first ``device.own_modes``), and
    back there after the test, which also ends any DR."""
    normal = dut.profile.device.own_modes[0]
    dut.set_own_mode(normal)
    yield normal
    dut.set_own_mode(normal)
