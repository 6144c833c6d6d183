"""Shared set-up of the battery suite: the test power, and every test's clean-up.

Each test establishes its own starting state first (``dut.prepare(...)``: any DR released, the
own mode set, each read back; :class:`~drready.errors.Inconclusive` if that cannot be done), and
the autouse fixture below gives back what it changed, whatever the verdict.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from drready.suites.battery.helpers import SharedScenarios, standard_power_w

from drready.device import BatteryDUT


@pytest.fixture(scope="session")
def test_power_w(dut: BatteryDUT) -> float:
    """Half the smaller rated power: far from both ratings, so clamping cannot hide an error."""
    return standard_power_w(dut.profile)


@pytest.fixture(scope="session")
def shared_scenarios() -> SharedScenarios:
    """DR scenarios that several tests judge, each run once (the first test to need it)."""
    return SharedScenarios()


@pytest.fixture(autouse=True)
def restored(dut: BatteryDUT) -> Iterator[None]:
    """After each test: any DR released to the normal own mode, the backup reserve put back as
    the test found it. Never raises: what does not take is noted, and the next test's
    ``prepare`` says so (a verdict belongs to the test that earned it)."""
    yield
    dut.restore()
