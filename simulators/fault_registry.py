"""The registry of named faults: what a fault is, how one is registered, and the simulators'
surfaces a fault may bend.

A fault is a small function that bends one part of a conforming simulator, and names the
requirements it must make fail. The tables register into :data:`FAULTS`
(:mod:`drready.simulators.echonet_faults`, :mod:`~drready.simulators.sunspec_faults`,
:mod:`~drready.simulators.openadr_faults`, :mod:`~drready.simulators.webapi_faults`);
:mod:`drready.simulators.faults` loads them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from drready.echonet.codec import Frame
from drready.model import Binding, DeviceClass
from drready.simulation import FaultInfo, UnknownFaultError

if TYPE_CHECKING:
    from drready.simulators.battery import BatteryDevice
    from drready.simulators.sunspec_battery import SunSpecBatteryDevice
    from drready.simulators.water_heater import WaterHeaterDevice


# What a fault may bend, declared here so that the fault table does not import the runtimes
# that apply it (they import this module to look faults up).
class BatterySimulator(Protocol):
    """The ECHONET Lite reference battery: its device and the filters its replies pass."""

    device: BatteryDevice
    response_filters: list[Callable[[Frame], Frame | None]]


class WaterHeaterSimulator(Protocol):
    """A reference water heater (heat pump or hybrid)."""

    device: WaterHeaterDevice


class SunSpecBatterySimulator(Protocol):
    """The reference battery over SunSpec Modbus."""

    device: SunSpecBatteryDevice


#: The simulator a fault bends (a BatterySimulator, WaterHeaterSimulator, ...).
Sim = TypeVar("Sim")


@dataclass(frozen=True)
class Fault(FaultInfo):
    """A named fault with what it does: :attr:`apply` bends a simulator of ``device_class`` over
    ``binding`` before it starts serving."""

    apply: Callable[[Any], None] = field(kw_only=True)


FAULTS: dict[str, Fault] = {}


def fault(
    name: str,
    device_class: str,
    requirements: tuple[str, ...],
    description: str,
    *,
    binding: str = "echonet",
    units: int = 1,
) -> Callable[[Callable[[Sim], None]], Callable[[Sim], None]]:
    def register(apply: Callable[[Sim], None]) -> Callable[[Sim], None]:
        if name in FAULTS:
            raise ValueError(f"fault {name!r} registered twice")
        FAULTS[name] = Fault(
            name,
            DeviceClass(device_class),
            requirements,
            description,
            Binding(binding),
            units,
            apply=apply,
        )
        return apply

    return register


def get_fault(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise UnknownFaultError(
            f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})"
        ) from None


def faults_for(device_class: str) -> list[Fault]:
    return [f for f in FAULTS.values() if f.device_class == device_class]
