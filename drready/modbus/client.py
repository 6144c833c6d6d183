"""An asyncio SunSpec client over Modbus TCP, on pymodbus's ``AsyncModbusTcpClient``.

Every request and every response goes to the run's :class:`~drready.evidence.EvidenceLog` on
channel ``"modbus"``: kind ``tx`` or ``rx``, peer ``"host:port"``, a summary such as
``READ 40002+68 unit 1`` or ``WRITE 40200 [3 regs] unit 1``, and as data the Modbus TCP ADU
exactly as it went on the wire (MBAP header and PDU), taken from pymodbus's packet trace hook.
Received frames are cut out of the receive buffer by their MBAP length, so a late answer to an
earlier attempt is logged too (its summary says "unexpected TID"). A request that got no answer
in time leaves a ``note`` record; connecting and closing leave ``note`` records as well.

Waits are bounded: connecting and each attempt wait at most ``timeout_s``, and a request is
sent at most ``attempts`` times (pymodbus's own retries are off, so each attempt is a new
transaction ID and a new ``tx`` record). An exception response is not retried.

Link impairment (``impairment``, :mod:`drready.impairment`) works per attempt, because over TCP
a lost segment is retransmitted by the kernel and only a request or an answer that never comes
(a broken connection, a gateway that drops it) reaches the client: a *lost request* is not sent
and the attempt times out; a *lost reply* is sent and answered (a write takes effect), the
answer is discarded and the attempt times out; a *delay* (with jitter) holds the request and the
answer, and an attempt whose two delays exceed ``timeout_s`` times out after the device
answered; a *duplicated* request is sent again once answered (Modbus reads and register writes
are idempotent) and the second answer discarded. Reordering and TID corruption do not apply to
one request at a time over TCP. Every action is an ``impair`` record on channel ``modbus``;
waits are on the event loop's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from drready.evidence import EvidenceSink
from drready.impairment import EVIDENCE_KIND, RX, TX, LinkImpairment
from drready.modbus.errors import (
    EXCEPTION_NAMES,
    ModbusConnectError,
    ModbusError,
    ModbusExceptionResponse,
    ModbusTimeout,
    SunSpecChainError,
    SunSpecDecodeError,
    SunSpecNotFound,
)
from drready.modbus.registers import (
    ModelBlock,
    Value,
    encode_updates,
    needs_scale_factor,
    points_end,
)
from drready.modbus.sunspec import (
    BASE_ADDRESSES,
    END_MODEL_ID,
    MODELS,
    SUNS_REGISTERS,
    Model,
    model,
)

__all__ = ["CHANNEL", "MAX_READ", "MAX_WRITE", "DiscoveredModel", "SunSpecClient"]

CHANNEL = "modbus"
MAX_READ = 125  # registers in one Read Holding Registers (0x03)
MAX_WRITE = 123  # registers in one Write Multiple Registers (0x10)
_REGISTER_SPACE = 0x10000
_MBAP = 7  # transaction ID, protocol ID, length, unit ID

_Call = Callable[[], Awaitable[ModbusPDU]]  # makes a pymodbus request anew for each attempt


@dataclass(frozen=True, slots=True)
class DiscoveredModel:
    """One model of the device's chain: its ID, the address of its ID register, its L."""

    id: int
    address: int
    length: int

    @property
    def definition(self) -> Model | None:
        return MODELS.get(self.id)


def _places(addresses: Sequence[int]) -> str:
    text = [str(a) for a in addresses]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " or " + text[-1]


class SunSpecClient:
    """A SunSpec device at ``host:port``, unit ``unit``. Use ``async with`` or connect/close."""

    def __init__(
        self,
        host: str,
        port: int = 502,
        *,
        evidence: EvidenceSink,
        unit: int = 1,
        timeout_s: float = 1.0,
        attempts: int = 3,
        max_models: int = 64,
        base_addresses: Sequence[int] = BASE_ADDRESSES,
        impairment: LinkImpairment | None = None,
    ) -> None:
        if attempts < 1 or timeout_s <= 0:
            raise ValueError(f"attempts {attempts} must be ≥ 1 and timeout {timeout_s} s > 0")
        if not 0 <= unit <= 255:
            raise ValueError(f"unit {unit} outside 0..255")
        self.host = host
        self.port = port
        self.unit = unit
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.max_models = max_models
        self.base_addresses = tuple(base_addresses)
        self.evidence = evidence
        self.peer = f"{host}:{port}"
        self.base: int | None = None
        self.models: list[DiscoveredModel] | None = None
        self._request = ""  # summary of the request in flight
        self._expect: tuple[int, int] | None = None  # its (transaction ID, unit)
        self._pymodbus: AsyncModbusTcpClient | None = None  # made in connect(): needs a loop
        self.impairment = impairment
        if impairment is not None:
            self._impair_note(
                "settings",
                f"Modbus link impaired: {impairment.impairment.describe()}; "
                f"{attempts} attempts a request",
            )

    # -- connection --------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the TCP connection, waiting at most ``timeout_s``."""
        if self._pymodbus is None:
            self._pymodbus = AsyncModbusTcpClient(
                self.host,
                port=self.port,
                timeout=self.timeout_s,
                retries=0,  # attempts are counted here, each one logged
                reconnect_delay=0,  # no reconnecting behind our back
                trace_packet=self._trace_packet,
            )
        try:
            ok = await asyncio.wait_for(self._pymodbus.connect(), self.timeout_s + 0.5)
        except TimeoutError:
            ok = False
        if not ok:
            self.evidence.add("note", CHANNEL, self.peer, f"CONNECT failed ({self.timeout_s:g} s)")
            raise ModbusConnectError(f"cannot connect to {self.peer} within {self.timeout_s:g} s")
        self.evidence.add("note", CHANNEL, self.peer, "CONNECT")

    @property
    def connected(self) -> bool:
        return self._pymodbus is not None and self._pymodbus.connected

    @property
    def _client(self) -> AsyncModbusTcpClient:
        if self._pymodbus is None:
            raise ModbusConnectError(f"not connected to {self.peer}: call connect() first")
        return self._pymodbus

    def close(self) -> None:
        if self._pymodbus is None:
            return
        if self._pymodbus.connected:
            self.evidence.add("note", CHANNEL, self.peer, "CLOSE")
        self._pymodbus.close()

    async def __aenter__(self) -> SunSpecClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- evidence ----------------------------------------------------------------------------

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if sending:
            if len(data) >= _MBAP:
                self._expect = (int.from_bytes(data[0:2], "big"), data[6])
            self.evidence.add("tx", CHANNEL, self.peer, self._request, data=data)
        else:
            self._log_received(data)
        return data

    def _log_received(self, buffer: bytes) -> None:
        """Log each whole frame at the start of pymodbus's receive buffer, as pymodbus consumes
        them: every frame up to and including the one answering the request in flight (frames
        after it stay in the buffer and come round again with the next data)."""
        offset = 0
        while len(buffer) - offset >= _MBAP + 1:
            if buffer[offset + 2 : offset + 4] != b"\0\0":
                break  # not Modbus TCP; pymodbus drops it too
            length = int.from_bytes(buffer[offset + 4 : offset + 6], "big")
            end = offset + 6 + length
            if end > len(buffer):
                break
            frame = buffer[offset:end]
            if length < 2:  # no unit and function code: pymodbus drops it and stops there
                summary = f"malformed frame (MBAP length {length})"
                self.evidence.add("rx", CHANNEL, self.peer, summary, data=frame)
                break
            offset = end
            tid, unit = int.from_bytes(frame[0:2], "big"), frame[6]
            answers = self._expect is not None and (
                (not self._expect[1] or unit == self._expect[1])
                and (not self._expect[0] or not tid or tid == self._expect[0])
            )
            self.evidence.add("rx", CHANNEL, self.peer, self._describe(frame, answers), data=frame)
            if answers:
                break

    def _describe(self, frame: bytes, answers: bool) -> str:
        function = frame[7] if len(frame) > _MBAP else 0
        if not answers:
            tid = int.from_bytes(frame[0:2], "big")
            return f"unexpected TID {tid} unit {frame[6]} function 0x{function:02X}"
        if function & 0x80 and len(frame) > _MBAP + 1:
            code = frame[8]
            name = EXCEPTION_NAMES.get(code, "unknown exception code")
            return f"{self._request} -> exception 0x{code:02X} {name}"
        if function == 0x03 and len(frame) > _MBAP + 1:
            return f"{self._request} -> {frame[8] // 2} regs"
        return f"{self._request} -> ok"

    # -- requests ----------------------------------------------------------------------------

    async def _execute(self, request: str, address: int, call: _Call) -> ModbusPDU:
        """Send a request (up to ``attempts`` times), return the response that is not an
        exception response."""
        for attempt in range(1, self.attempts + 1):
            if not self.connected:
                await self.connect()
            self._request = request
            self._expect = None
            try:
                if self.impairment is None:
                    response = await asyncio.wait_for(call(), self.timeout_s + 0.5)
                else:
                    response = await self._impaired(self.impairment, request, attempt, call)
            except (TimeoutError, ModbusIOException, ConnectionException) as exc:
                reason = "no response" if not isinstance(exc, ConnectionException) else "lost"
                self.evidence.add(
                    "note",
                    CHANNEL,
                    self.peer,
                    f"{reason}: {request} (attempt {attempt}/{self.attempts}, "
                    f"timeout {self.timeout_s:g} s)",
                )
                continue
            finally:
                self._expect = None
            if response.isError():
                raise ModbusExceptionResponse(
                    self.peer, self.unit, request, response.function_code, response.exception_code
                )
            return response
        raise ModbusTimeout(self.peer, self.unit, request, address, self.attempts, self.timeout_s)

    async def _impaired(
        self, dice: LinkImpairment, request: str, attempt: int, call: _Call
    ) -> ModbusPDU:
        """One attempt through the link impairment (see the module docs)."""
        which = f"{request} (attempt {attempt}/{self.attempts})"
        there, back = dice.delay_s(TX), dice.delay_s(RX)
        if dice.lost(TX):
            self._impair_note("drop tx", f"drop tx: {which}: the request is lost")
            await asyncio.sleep(self.timeout_s)
            raise TimeoutError
        if there:
            await asyncio.sleep(min(there, self.timeout_s))
        response = await asyncio.wait_for(call(), self.timeout_s + 0.5)
        if dice.duplicated(TX):
            self._impair_note("duplicate tx", f"duplicate tx: {which}: sent twice")
            with contextlib.suppress(TimeoutError, ModbusIOException, ConnectionException):
                await asyncio.wait_for(call(), self.timeout_s + 0.5)
            self._request = request
        if dice.lost(RX):
            self._impair_note("drop rx", f"drop rx: {which}: the answer is lost")
            await asyncio.sleep(max(0.0, self.timeout_s - there))
            raise TimeoutError
        if there + back >= self.timeout_s:
            self._impair_note(
                "delay rx",
                f"delay rx: {which}: answered after {(there + back) * 1000:g} ms, "
                f"past the {self.timeout_s:g} s timeout",
            )
            await asyncio.sleep(max(0.0, self.timeout_s - there))
            raise TimeoutError
        if back:
            await asyncio.sleep(back)
        return response

    def _impair_note(self, action: str, summary: str) -> None:
        kind, _, direction = action.partition(" ")
        values = {"action": kind, "direction": direction}
        self.evidence.add(EVIDENCE_KIND, CHANNEL, self.peer, summary, values=values)

    @staticmethod
    def _check_span(address: int, count: int) -> None:
        if count < 1 or address < 0 or address + count > _REGISTER_SPACE:
            raise ModbusError(f"registers {address}+{count} outside the Modbus register space")

    async def read_registers(self, address: int, count: int) -> list[int]:
        """Holding registers ``address`` .. ``address + count - 1`` (several reads if long)."""
        self._check_span(address, count)
        registers: list[int] = []
        while count:
            n = min(count, MAX_READ)
            request = f"READ {address}+{n} unit {self.unit}"

            def call(a: int = address, n: int = n) -> Awaitable[ModbusPDU]:
                return self._client.read_holding_registers(a, count=n, device_id=self.unit)

            response = await self._execute(request, address, call)
            got = list(response.registers)
            if len(got) != n:
                raise SunSpecDecodeError(
                    f"{self.peer} unit {self.unit} answered {request} with {len(got)} registers"
                )
            registers.extend(got)
            address += n
            count -= n
        return registers

    async def write_registers(self, address: int, values: Sequence[int]) -> None:
        """Write holding registers from ``address`` (Write Multiple Registers, several if long)."""
        self._check_span(address, len(values))
        if any(not 0 <= v <= 0xFFFF for v in values):
            raise ModbusError(f"register values for {address} outside 0..0xFFFF")
        done = 0
        while done < len(values):
            chunk = list(values[done : done + MAX_WRITE])
            at = address + done
            request = f"WRITE {at} [{len(chunk)} regs] unit {self.unit}"

            def call(a: int = at, c: list[int] = chunk) -> Awaitable[ModbusPDU]:
                return self._client.write_registers(a, c, device_id=self.unit)

            await self._execute(request, at, call)
            done += len(chunk)

    # -- SunSpec -----------------------------------------------------------------------------

    async def discover(self) -> list[DiscoveredModel]:
        """Find the SunS marker and walk the chain of models to the end model.

        An exception response at a base address means "not here": the next one is tried. The
        chain must end with the end model (ID 0xFFFF, L 0) within the register space and within
        ``max_models`` models.
        """
        for base in self.base_addresses:
            try:
                marker = await self.read_registers(base, 2)
            except ModbusExceptionResponse:
                continue
            if tuple(marker) == SUNS_REGISTERS:
                break
        else:
            raise SunSpecNotFound(
                f"no SunS marker at {_places(self.base_addresses)} on {self.peer} unit {self.unit}"
            )
        where = f"{self.peer} unit {self.unit}"
        found: list[DiscoveredModel] = []
        seen: set[int] = set()
        address = base + 2
        while True:
            if address in seen:
                raise SunSpecChainError(f"{where}: model chain loops back to {address}")
            seen.add(address)
            if address + 2 > _REGISTER_SPACE:
                raise SunSpecChainError(
                    f"{where}: model chain runs past the register space at {address}"
                )
            model_id, length = await self.read_registers(address, 2)
            if model_id == END_MODEL_ID:
                if length != 0:
                    raise SunSpecChainError(
                        f"{where}: end model at {address} has L {length}, not 0"
                    )
                break
            if model_id == 0:
                raise SunSpecChainError(f"{where}: model ID 0 at {address}")
            if len(found) >= self.max_models:
                raise SunSpecChainError(
                    f"{where}: more than {self.max_models} models, no end model by {address}"
                )
            end = address + 2 + length
            if end + 2 > _REGISTER_SPACE:
                raise SunSpecChainError(
                    f"{where}: model {model_id} at {address} with L {length} does not fit "
                    "the register space"
                )
            found.append(DiscoveredModel(model_id, address, length))
            address = end
        self.base = base
        self.models = found
        self.evidence.add(
            "note",
            CHANNEL,
            self.peer,
            f"SunSpec base {base}: models "
            + (", ".join(f"{m.id}@{m.address}+{m.length}" for m in found) or "none"),
        )
        return list(found)

    async def find(self, model_id: int) -> DiscoveredModel:
        """The first instance of ``model_id`` in the device's chain (discovering it if need be)."""
        if self.models is None:
            await self.discover()
        assert self.models is not None
        for found in self.models:
            if found.id == model_id:
                return found
        have = ", ".join(str(m.id) for m in self.models) or "none"
        raise SunSpecNotFound(
            f"{self.peer} unit {self.unit} has no SunSpec model {model_id} (models: {have})"
        )

    async def read_model(self, model_id: int) -> ModelBlock:
        """The whole block of ``model_id`` (ID, L and L registers) in one go."""
        found = await self.find(model_id)
        return await self._read_block(model(model_id), found, found.length + 2)

    async def _read_block(self, definition: Model, found: DiscoveredModel, size: int) -> ModelBlock:
        """The first ``size`` registers of the block (ID and L included, checked against
        discovery), as a block that ends there."""
        registers = await self.read_registers(found.address, size)
        if registers[0] != definition.id or registers[1] != found.length:
            raise SunSpecDecodeError(
                f"{self.peer} unit {self.unit}: model {definition.id} at {found.address} now "
                f"reads ID {registers[0]} L {registers[1]}, discovered L {found.length}"
            )
        return ModelBlock(definition, [registers[0], size - 2, *registers[2:]])

    async def read_points(self, model_id: int, names: Iterable[str]) -> dict[str, Value | None]:
        """Values of the named points, scale factors applied (None: not implemented).

        One read from the model's ID and L (checked against discovery) up to the last register
        the points and their scale factors need, not the whole block: a meter's power is
        registers 0..22 of the 107 of model 203.
        """
        definition = model(model_id)
        wanted = list(names)
        found = await self.find(model_id)
        size = min(points_end(definition, wanted), found.length + 2)
        return (await self._read_block(definition, found, size)).values(wanted)

    async def write_points(self, model_id: int, values: Mapping[str, Value | None]) -> None:
        """Write points, scaled with the scale factors the device reports now.

        The model is read first only when a point has a scale factor: unscaled points (the
        controller heartbeat, an enable) are encoded from the definition and the discovered L.
        Adjacent points go in one Write Multiple Registers request, in address order.
        """
        if not values:
            return
        definition = model(model_id)
        found = await self.find(model_id)
        if any(needs_scale_factor(definition, name) for name in values):
            block = await self._read_block(definition, found, found.length + 2)
            encoded = block.encode_updates(values)
        else:
            encoded = encode_updates(definition, found.length, values, lambda name: 0)
        self.evidence.add(
            "note",
            CHANNEL,
            self.peer,
            f"WRITE model {model_id}: " + ", ".join(f"{k}={v!r}" for k, v in values.items()),
            values={"model": model_id, "points": dict(values)},
        )
        runs: list[tuple[int, list[int]]] = []
        for name in sorted(encoded, key=lambda n: definition.point(n).offset):
            offset = definition.point(name).offset
            if runs and runs[-1][0] + len(runs[-1][1]) == offset:
                runs[-1][1].extend(encoded[name])
            else:
                runs.append((offset, list(encoded[name])))
        for offset, registers in runs:
            await self.write_registers(found.address + offset, registers)
