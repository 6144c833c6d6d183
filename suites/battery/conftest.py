"""Shared set-up of the battery suite: the test power, and a clean own mode after each DR test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drready.dut import DeviceUnderTest

#: The mode a battery normally runs in between tests (ECHONET Lite 0x027D 0xDA "auto").
BASELINE_MODE = "auto"


@pytest.fixture(scope="session")
def test_power_w(dut: DeviceUnderTest) -> float:
    """Half the smaller rated power: far from both ratings, so clamping cannot hide an error."""
    ratings = dut.profile.ratings
    assert ratings is not None, "the battery profile has no [ratings] table"
    return 0.5 * min(ratings.max_charge_w, ratings.max_discharge_w)


@pytest.fixture
def own_mode(dut: DeviceUnderTest) -> Iterator[str]:
    """Put the device in its baseline own mode, and back there after the test (ends any DR)."""
    dut.set_own_mode(BASELINE_MODE)
    yield BASELINE_MODE
    dut.set_own_mode(BASELINE_MODE)
