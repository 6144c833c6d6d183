"""The device facade the suites use: the device under test in requirement terms.

:func:`facade_for` gives a :class:`BatteryDUT` or a :class:`WaterHeaterDUT`, both
:class:`DeviceUnderTest`; what a binding lets the harness do beyond that is its
:class:`Capabilities`. The binding Protocols are :mod:`drready.bindings.base`'s, re-exported.
"""

from __future__ import annotations

from drready.bindings.base import (
    BatteryBinding,
    DeviceBinding,
    ServerPathBinding,
    SimulatorControl,
    WaterHeaterBinding,
)
from drready.bindings.types import Capabilities
from drready.device.base import PROBES, DeviceUnderTest
from drready.device.battery import BatteryDUT
from drready.device.factory import facade_for
from drready.device.water_heater import LATE_S, WaterHeaterDUT
from drready.model import DAY_S

__all__ = [
    "DAY_S",
    "LATE_S",
    "PROBES",
    "BatteryBinding",
    "BatteryDUT",
    "Capabilities",
    "DeviceBinding",
    "DeviceUnderTest",
    "ServerPathBinding",
    "SimulatorControl",
    "WaterHeaterBinding",
    "WaterHeaterDUT",
    "facade_for",
]
