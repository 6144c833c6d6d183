"""Named faults for the reference simulators: every table loaded, one registry.

A fault is a small function that bends one part of a conforming simulator, and names the
requirements it must make fail. The detection matrix test runs the suite once per fault and checks
that exactly those requirements fail: that is how we know each test can fail.
Faults compose: ``--fault a --fault b`` applies both, in order.

The tables live beside what they bend: :mod:`~drready.simulators.echonet_faults` (the ECHONET
Lite battery and water heaters), :mod:`~drready.simulators.battery_behaviour_faults` (what the
ECHONET Lite battery does rather than what it says), its twin
:mod:`~drready.simulators.water_heater_behaviour_faults`, :mod:`~drready.simulators.link_faults`
(the wire: TIDs, duplicates, malformed frames), :mod:`~drready.simulators.sunspec_faults` (the
battery over SunSpec Modbus), :mod:`~drready.simulators.openadr_faults` (the reference VEN) and
:mod:`~drready.simulators.webapi_faults` (the maker's cloud). Importing this module loads them
all; the registry itself is :mod:`drready.simulators.fault_registry`.
"""

from __future__ import annotations

from drready.simulators import (
    battery_behaviour_faults,
    echonet_faults,
    link_faults,
    openadr_faults,
    sunspec_faults,
    water_heater_behaviour_faults,
    webapi_faults,
)
from drready.simulators.fault_registry import (
    FAULTS,
    BatterySimulator,
    Fault,
    SunSpecBatterySimulator,
    WaterHeaterSimulator,
    fault,
    faults_for,
    get_fault,
)
from drready.simulators.sunspec_faults import MODBUS_BATTERY_REQUIREMENTS

from drready.simulation import UnknownFaultError

__all__ = [
    "FAULTS",
    "MODBUS_BATTERY_REQUIREMENTS",
    "BatterySimulator",
    "Fault",
    "SunSpecBatterySimulator",
    "UnknownFaultError",
    "WaterHeaterSimulator",
    "battery_behaviour_faults",
    "echonet_faults",
    "fault",
    "faults_for",
    "get_fault",
    "link_faults",
    "openadr_faults",
    "sunspec_faults",
    "water_heater_behaviour_faults",
    "webapi_faults",
]
