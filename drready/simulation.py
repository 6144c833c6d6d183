"""Where the harness finds its reference simulators, and what it may ask of them.

The harness never imports the simulators. They register a :class:`SimulatorBackend` under the
``drready.simulators`` entry-point group (see ``pyproject.toml``); :func:`backend` loads it on
first use. This module owns the small interface the simulators implement, as pymodbus's
datastore owns the context its simulators fill: the named faults, and (for the run layer) the
factories that build a simulated device.

A run with no simulators installed can still test real devices; only ``--simulate`` and
``--fault`` need a backend, and say so in one line when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Protocol

from drready.errors import UsageError
from drready.model import Binding, DeviceClass

__all__ = [
    "ENTRY_POINT_GROUP",
    "FaultInfo",
    "SimulatorBackend",
    "UnknownFaultError",
    "backend",
    "faults",
    "faults_for",
    "get_fault",
]

#: The entry-point group a simulator package registers its backend under.
ENTRY_POINT_GROUP = "drready.simulators"


@dataclass(frozen=True)
class FaultInfo:
    """A named simulator fault as the harness sees it: which device it bends, over which
    binding, and exactly which requirements it must make fail (the detection matrix's row)."""

    name: str
    device_class: DeviceClass
    requirements: tuple[str, ...]
    description: str
    binding: Binding = Binding.ECHONET

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "name": self.name,
            "device_class": str(self.device_class),
            "requirements": list(self.requirements),
            "description": self.description,
        }
        if self.binding is not Binding.ECHONET:
            doc["binding"] = str(self.binding)
        return doc


class UnknownFaultError(UsageError, KeyError):
    """A fault name no simulator registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class SimulatorBackend(Protocol):
    """What a simulator package offers the harness."""

    @property
    def faults(self) -> Mapping[str, FaultInfo]:
        """Every named fault, by name."""
        ...


@cache
def backend() -> SimulatorBackend:
    """The installed simulator backend (the first registered under :data:`ENTRY_POINT_GROUP`)."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    if not found:
        raise UsageError(
            "no simulators are installed (entry-point group drready.simulators); "
            "reinstall drready, or test a real device with --profile"
        )
    loaded: SimulatorBackend = found[0].load()
    return loaded


def faults() -> Mapping[str, FaultInfo]:
    """Every named fault of the installed simulators, by name."""
    return backend().faults


def get_fault(name: str) -> FaultInfo:
    """The fault called ``name``; :class:`UnknownFaultError` (a usage error) lists the rest."""
    known = faults()
    try:
        return known[name]
    except KeyError:
        raise UnknownFaultError(
            f"unknown fault {name!r} (known: {', '.join(sorted(known))})"
        ) from None


def faults_for(device_class: DeviceClass | str) -> list[FaultInfo]:
    """The faults that bend ``device_class``'s simulators, over any binding."""
    return [f for f in faults().values() if f.device_class == device_class]
