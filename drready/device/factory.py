"""The one way a session builds the facade: the class of the profile's device over its binding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drready.bindings.base import (
    BatteryBinding,
    DeviceBinding,
    SimulatorControl,
    WaterHeaterBinding,
)
from drready.clock import LoopRunner
from drready.device.base import DeviceUnderTest
from drready.device.battery import BatteryDUT
from drready.device.water_heater import WaterHeaterDUT
from drready.errors import SessionError
from drready.evidence import EvidenceLog
from drready.model import DeviceClass

if TYPE_CHECKING:
    from drready.profile import Profile

__all__ = ["facade_for"]


def facade_for(
    runner: LoopRunner,
    binding: DeviceBinding,
    profile: Profile,
    evidence: EvidenceLog,
    simulator: SimulatorControl | None = None,
) -> DeviceUnderTest:
    """The facade of the profile's device class over ``binding``: what a session hands the
    suites (a :class:`BatteryDUT` or a :class:`WaterHeaterDUT`)."""
    device_class = DeviceClass(profile.device.device_class)
    if device_class is DeviceClass.BATTERY:
        if isinstance(binding, BatteryBinding):
            return BatteryDUT(runner, binding, profile, evidence, simulator)
    elif isinstance(binding, WaterHeaterBinding):
        return WaterHeaterDUT(runner, binding, profile, evidence, simulator)
    raise SessionError(
        f"the {binding.protocol} binding ({type(binding).__name__}) lacks the operations of a "
        f"{device_class.name_en}"
    )
