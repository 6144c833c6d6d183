"""The interfaces the device facade drives: what every binding offers, what each device class
adds, what the server path adds, and what only an in-process simulator offers.

The bindings layer owns these Protocols; :mod:`drready.device` re-exports them. The values they
return are in :mod:`drready.bindings.types`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from drready.bindings.types import (
    Capabilities,
    CommunicationReport,
    DrAck,
    HeaterStatus,
    Identity,
    ProbeResult,
    Status,
    StructuredDataReport,
)
from drready.model import Topology

__all__ = [
    "BatteryBinding",
    "DeviceBinding",
    "ServerPathBinding",
    "SimulatorControl",
    "WaterHeaterBinding",
]


class ServerPathBinding(Protocol):
    """What a binding of the server topology offers besides its device class's operations."""

    async def structured_data(self) -> StructuredDataReport:
        """*-1.2: the documents the device sent so far, and those that broke the schema."""
        ...

    def probe_kinds(self) -> tuple[str, ...]:
        """The security checks of this shape (see :data:`drready.device.PROBES`)."""
        ...

    async def probe(self, kind: str) -> ProbeResult: ...


# Runtime-checkable: the facade factory narrows a binding to its device class's Protocol with
# isinstance (a member check), so a binding that lacks an operation fails when the session opens.
@runtime_checkable
class DeviceBinding(Protocol):
    """What every binding offers, whatever the device class."""

    @property
    def protocol(self) -> str:
        """The protocol's name, for the report's wording (never branched on)."""
        ...

    @property
    def topology(self) -> Topology: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def local_address(self) -> tuple[str, int] | None:
        """The harness's own ECHONET Lite socket (host, port), for the bundle's pcapng trace;
        None where the binding has none."""
        ...

    @property
    def server_path(self) -> ServerPathBinding | None:
        """The server-path operations (the binding itself on the server topology), or None."""
        ...

    async def communication_check(self) -> CommunicationReport: ...
    async def identity(self) -> Identity: ...
    async def appendix_release(self) -> str | None: ...
    async def node_version(self) -> str | None: ...
    def cut_comms(self) -> None: ...
    def restore_comms(self) -> None: ...

    def close(self) -> None:
        """Let go of what the binding holds (connections, sessions); idempotent."""
        ...


@runtime_checkable
class BatteryBinding(DeviceBinding, Protocol):
    async def request_power(self, target_w: float, duration_s: float | None) -> DrAck: ...
    async def read_target_w(self) -> float: ...
    async def set_own_mode(self, mode: str) -> None: ...
    async def release_dr(self, own_mode: str) -> None:
        """End any DR so that the device returns to ``own_mode`` (its normal own mode); the
        facade reads the mode back to check that it did."""
        ...

    async def read_mode(self) -> str: ...
    async def read_ratings(self) -> tuple[float, float]: ...
    async def status(self) -> Status: ...
    async def set_backup_reserve_pct(self, pct: float) -> None: ...


@runtime_checkable
class WaterHeaterBinding(DeviceBinding, Protocol):
    async def device_time(self) -> datetime: ...
    def start_time_step_s(self) -> float: ...
    async def request_start_time(self, tod_s: float) -> DrAck: ...

    async def clear_start_time(self) -> DrAck:
        """Withdraw any DR start time (the heat pump also leaves the energy shift); not
        accepted where the binding or the device has no way to."""
        ...

    async def planned_start(self) -> float | None: ...

    async def heating_mode(self) -> str | None:
        """The automatic-heating setting (0xB0: "auto", "manualHeating", ...), None where the
        binding cannot read it."""
        ...

    async def dr_possible_wh(self) -> float: ...
    async def heater_status(self) -> HeaterStatus: ...


class SimulatorControl(Protocol):
    """What only an in-process simulator offers the harness."""

    async def start(self) -> object: ...
    def restart(self) -> None: ...
    def check(self) -> None: ...
    def close(self) -> None: ...
