"""Serves the SunSpec reference battery and its meter on one pymodbus Modbus TCP server.

Unit ``config.unit_id`` (1) is the battery (:mod:`drready.simulators.sunspec_battery`), unit
``meter_unit`` (2, None for no meter) the independent meter
(:mod:`drready.simulators.sunspec_meter`). Each unit is a pymodbus ``SimDevice`` whose action
recomputes the models a read touches from the physics and validates and applies every write
(refusing it with an exception code).

Two ways to listen, same code:

- a real TCP ``host``/``port`` (port 0: an ephemeral port; :attr:`address` reports the bound one);
- pymodbus's in-process null modem: ``host = pymodbus.transport.NULLMODEM_HOST``
  (``"__pymodbus_nullmodem"``) and any port number (0 picks a free one from 5020 up); a client
  connects with ``AsyncModbusTcpClient(NULLMODEM_HOST, port=sim.address[1])``. No socket is
  opened, so it runs on the virtual clock of a simulated run.

Device time is the running loop's clock times ``time_scale``; reversion and comms-loss deadlines
are ``call_at`` timers on that loop (no threads, no sleeps). Errors inside the simulator are
recorded, answered with exception 4 (SERVER DEVICE FAILURE) and re-raised by :meth:`check`.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, Self, cast

from drready.simulators.faults import get_fault
from drready.simulators.runtime import SimulatorError
from drready.simulators.sunspec_battery import SunSpecBatteryConfig, SunSpecBatteryDevice
from drready.simulators.sunspec_meter import SunSpecMeterConfig, SunSpecMeterDevice
from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.transport import NULLMODEM_HOST
from pymodbus.transport.transport import NullModem

from drready.model import Binding

# The pymodbus.server package imports its HTTP simulator, which imports aiohttp if it can: 15 MB
# of RSS and 0.15 s of CPU (aiohttp builds its SSL contexts on import) in a Modbus run that never
# uses it. Unless something imported aiohttp already, it is hidden for this one import (pymodbus
# goes without it: only its HTTP simulator, unused here, needs it), then visible again.
if "aiohttp" in sys.modules:
    from pymodbus.server import ModbusTcpServer
else:
    sys.modules["aiohttp"] = None  # type: ignore[assignment]  # None: "import aiohttp" fails
    try:
        from pymodbus.server import ModbusTcpServer
    finally:
        del sys.modules["aiohttp"]

__all__ = ["NULLMODEM_HOST", "SimulatedMeter", "SimulatedSunSpecBattery"]

_READ_CODES = frozenset({3, 4, 23})
_WRITE_CODES = frozenset({6, 16, 22, 23})
_FIRST_NULLMODEM_PORT = 5020


class _Unit(Protocol):
    """What the server needs of a unit: its image and its write handler."""

    def registers(self) -> list[int]: ...

    def registers_part(self, offset: int, count: int) -> tuple[int, list[int]]: ...

    def write(self, address: int, values: Sequence[int]) -> int | None: ...


_Serve = Callable[[int, int, int, int, list[int], list[int] | list[bool] | None], ExcCodes | None]


def _sim_unit(unit: int, base: int, size: int, serve: _Serve, latency_s: float = 0.0) -> SimDevice:
    """A pymodbus unit of ``size`` registers from ``base`` whose every request ``serve`` answers
    (function code, start address, address, count, registers, values written), ``latency_s``
    after it arrived (a seeded run's reply latency)."""

    async def action(
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if latency_s > 0:
            await asyncio.sleep(latency_s)
        return serve(function_code, start_address, address, count, registers, set_values)

    return SimDevice(
        unit, simdata=SimData(base, values=[0] * size, datatype=DataType.REGISTERS), action=action
    )


async def _listen(
    host: str, port: int, units: list[SimDevice]
) -> tuple[ModbusTcpServer, tuple[str, int]]:
    """A Modbus TCP server for ``units``, listening; and the address it is bound to."""
    nullmodem = host == NULLMODEM_HOST
    if nullmodem and port == 0:
        port = _FIRST_NULLMODEM_PORT
        while port in NullModem.listeners:
            port += 1
    elif nullmodem and port in NullModem.listeners:
        raise OSError(f"null modem port {port} is already listening")
    server = ModbusTcpServer(units, address=(host, port))
    try:
        await server.serve_forever(background=True)
    except RuntimeError as exc:
        server.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc}") from None
    if nullmodem:
        return server, (host, port)
    sockets = cast(asyncio.Server, server.transport).sockets
    name = sockets[0].getsockname()
    return server, (str(name[0]), int(name[1]))


def _serve_unit(
    device: _Unit,
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
    *,
    after_write: Callable[[], None] | None = None,
) -> ExcCodes | None:
    """Answer one request to a unit: a write validated and applied by the device (refused with
    its exception code), a read from the image computed for now. Only the models the request
    touches are computed (and stored): pymodbus answers from those registers alone."""
    offset = address - start_address
    if set_values is not None and function_code in _WRITE_CODES:
        values = [int(v) for v in set_values]
        refused = device.write(address, values)
        if refused is not None:
            return ExcCodes(refused)
        if after_write is not None:
            after_write()
        first, part = device.registers_part(offset, len(values))
        # What pymodbus stores after this action: the image as the write left it.
        cast(list[int], set_values)[:] = part[offset - first : offset - first + len(values)]
        registers[first : first + len(part)] = part
        return None
    if function_code in _READ_CODES or set_values is None:
        first, part = device.registers_part(offset, count)
        registers[first : first + len(part)] = part
        return None
    return ExcCodes.ILLEGAL_FUNCTION


def _stop(server: ModbusTcpServer | None) -> None:
    if server is not None:
        if not server.serving.done():
            server.serving.set_result(True)
        server.close()


class SimulatedMeter:
    """The independent meter alone on a Modbus TCP server, measuring any battery's physics
    (the ECHONET Lite reference battery's, when the profile declares a meter)."""

    def __init__(self, host: str, port: int, meter: SunSpecMeterDevice) -> None:
        self.host = host
        self.port = port
        self.meter = meter
        self.address: tuple[str, int] = (host, port)
        self._server: ModbusTcpServer | None = None
        self._errors: list[BaseException] = []
        #: How long each request waits for its answer (a seeded run's reply latency).
        self.reply_latency_s = 0.0

    def _serve(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        try:
            return _serve_unit(
                self.meter, function_code, start_address, address, count, registers, set_values
            )
        except Exception as exc:  # re-raised by check(): never lost
            self._errors.append(exc)
            return ExcCodes.DEVICE_FAILURE

    async def start(self) -> Self:
        config = self.meter.config
        size = len(self.meter.registers())
        unit = _sim_unit(
            config.unit_id, config.base_address, size, self._serve, self.reply_latency_s
        )
        self._server, self.address = await _listen(self.host, self.port, [unit])
        return self

    def check(self) -> None:
        if self._errors:
            first = self._errors[0]
            raise SimulatorError(f"meter simulator failed: {first!r}") from first

    def close(self) -> None:
        server, self._server = self._server, None
        _stop(server)


class SimulatedSunSpecBattery:
    """The SunSpec reference battery (and meter) on a Modbus TCP server; an async context manager
    with an idempotent :meth:`close`."""

    #: Which protocol binding the simulator serves (faults check it).
    binding = Binding.MODBUS

    def __init__(
        self,
        host: str,
        port: int,
        config: SunSpecBatteryConfig | None = None,
        faults: Sequence[str] = (),
        *,
        time_scale: float = 1.0,
        meter_unit: int | None = 2,
        meter_config: SunSpecMeterConfig | None = None,
    ) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.host = host
        self.port = port
        self.config = config or SunSpecBatteryConfig()
        self.fault_names = tuple(faults)
        self.time_scale = time_scale
        if meter_config is None:
            meter_config = SunSpecMeterConfig(
                serial_number=f"{self.config.serial_number}-M"[:32],
                base_address=self.config.base_address,
                unit_id=meter_unit or 2,
            )
        elif meter_unit is not None and meter_config.unit_id != meter_unit:
            raise ValueError(
                f"meter_unit {meter_unit} differs from meter_config.unit_id {meter_config.unit_id}"
            )
        self.meter_config = meter_config
        self.meter_unit = meter_unit
        if meter_unit is not None and meter_unit == self.config.unit_id:
            raise ValueError(f"the meter and the battery cannot share unit {meter_unit}")
        self.device = SunSpecBatteryDevice(self.config, lambda: 0.0)
        self.meter: SunSpecMeterDevice | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._bound: tuple[str, int] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._errors: list[BaseException] = []
        self.requests = 0
        #: How long each request waits for its answer (a seeded run's reply latency).
        self.reply_latency_s = 0.0

    # -- life cycle --------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        if self._bound is None:
            raise RuntimeError("simulator is not running")
        return self._bound

    @property
    def nullmodem(self) -> bool:
        return self.host == NULLMODEM_HOST

    def now(self) -> float:
        """Device time: the loop's clock times ``time_scale``."""
        if self._loop is None:
            raise RuntimeError("simulator is not running")
        return self._loop.time() * self.time_scale

    async def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        scale = self.time_scale
        # The device's wall clock: the run's (virtual) clock when it starts.
        self.device = SunSpecBatteryDevice(
            self.config,
            lambda: loop.time() * scale,
            epoch_at_zero_s=time.time() - loop.time() * scale,
        )
        if self.meter_unit is not None:
            self.meter = SunSpecMeterDevice(self.meter_config, self.device)
        for name in self.fault_names:
            get_fault(name).apply(self)
        units = [self._sim_device(self.config.unit_id, self.config.base_address, self.device)]
        if self.meter is not None:
            units.append(
                self._sim_device(
                    self.meter_config.unit_id, self.meter_config.base_address, self.meter
                )
            )
        self._server, self._bound = await _listen(self.host, self.port, units)
        self._arm_timer()
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        server, self._server = self._server, None
        _stop(server)

    def check(self) -> None:
        """Re-raise the first error the simulator hit while serving requests."""
        if self._errors:
            raise SimulatorError(f"simulator failed: {self._errors[0]!r}") from self._errors[0]

    def restart(self) -> None:
        """Power-cycle the battery: DR and volatile settings are lost, identity survives."""
        self.device.restart()
        self._arm_timer()

    # -- serving -----------------------------------------------------------------------------
    def _sim_device(self, unit: int, base: int, device: _Unit) -> SimDevice:
        size = len(device.registers()) if self._loop is not None else 1
        serve = functools.partial(self._serve, device)
        return _sim_unit(unit, base, size, serve, self.reply_latency_s)

    def _serve(
        self,
        device: _Unit,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        try:
            self.requests += 1
            if device is self.device:
                self.device.heard()
            return _serve_unit(
                device,
                function_code,
                start_address,
                address,
                count,
                registers,
                set_values,
                after_write=self._arm_timer,
            )
        except Exception as exc:  # recorded and re-raised by check(): never lost
            self._errors.append(exc)
            return ExcCodes.DEVICE_FAILURE

    # -- timers ------------------------------------------------------------------------------
    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self.device.next_deadline()
        if due is None or self._loop is None:
            return
        self._timer = self._loop.call_at(due / self.time_scale, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.device.on_time()
            self._arm_timer()
        except Exception as exc:
            self._errors.append(exc)
