"""The device facade the suites use: the device under test in requirement terms."""

from __future__ import annotations

from drready.device.facade import (
    LATE_S,
    PROBES,
    BatteryBinding,
    DeviceBinding,
    DeviceUnderTest,
    SimulatorControl,
    WaterHeaterBinding,
    facade_for,
)
from drready.model import DAY_S

__all__ = [
    "DAY_S",
    "LATE_S",
    "PROBES",
    "BatteryBinding",
    "DeviceBinding",
    "DeviceUnderTest",
    "SimulatorControl",
    "WaterHeaterBinding",
    "facade_for",
]
