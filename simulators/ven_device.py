"""What the reference VEN does with the device behind it, by device class.

The VEN (:mod:`drready.simulators.ven`) speaks OpenADR 3 upstream; downstream it drives the device
through a drready facade binding (the harness's own ECHONET Lite binding, so the VEN is a home
gateway in front of the reference ECHONET Lite device). An adapter turns an event's payloads into
binding calls and the device's state into the report payloads of :mod:`drready.openadr.vocab`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drready.bindings.types import DrAck
from drready.device import BatteryBinding, WaterHeaterBinding
from drready.openadr import vocab
from drready.timeofday import tod_seconds, tod_text


@dataclass(frozen=True)
class Instruction:
    """The part of an event the device acts on: one payload type and its values."""

    payload_type: str
    values: tuple[Any, ...]


class DeviceAdapter(Protocol):
    #: Event payload types this device acts on.
    payload_types: frozenset[str]

    async def execute(self, instruction: Instruction) -> tuple[DrAck, bool]:
        """Carry out one instruction: the answer, and whether it started a DR that must be
        ended (at the event's end, its deletion or a comms loss)."""
        ...

    async def end_dr(self, why: str) -> None:
        """Return the device to the own mode it had before the DR (no-op without one)."""
        ...

    @property
    def in_dr(self) -> bool: ...

    async def telemetry(self) -> dict[str, list[Any]]: ...


class BatteryAdapter:
    """A storage battery: a setpoint event is a DR the VEN itself ends; a backup-reserve event
    is a setting."""

    payload_types = frozenset({vocab.SETPOINT, vocab.BACKUP_RESERVE})

    def __init__(self, binding: BatteryBinding) -> None:
        self.binding = binding
        self.pre_mode: str | None = None
        self._ratings: tuple[float, float] | None = None

    @property
    def in_dr(self) -> bool:
        return self.pre_mode is not None

    async def execute(self, instruction: Instruction) -> tuple[DrAck, bool]:
        value = _one_number(instruction.values)
        if value is None:
            return DrAck(False, f"{instruction.payload_type} needs one number"), False
        if instruction.payload_type == vocab.BACKUP_RESERVE:
            if not 0 <= value <= 100:
                return DrAck(False, f"backup reserve {value:g} % is not 0..100"), False
            await self.binding.set_backup_reserve_pct(value)
            return DrAck(True, f"backup reserve {value:g} %"), False
        # The mode the device runs before this DR; a DR replacing another keeps the first's.
        pre_mode = self.pre_mode or await self.binding.read_mode()
        # No duration downstream: the VEN ends the DR itself, at the event's end.
        ack = await self.binding.request_power(vocab.watts(value), None)
        if ack.accepted:
            self.pre_mode = pre_mode
        return ack, ack.accepted

    async def end_dr(self, why: str) -> None:
        if self.pre_mode is None:
            return
        mode, self.pre_mode = self.pre_mode, None
        await self.binding.set_own_mode(mode)

    async def telemetry(self) -> dict[str, list[Any]]:
        status = await self.binding.status()
        target_w = await self.binding.read_target_w() if status.mode in DR_MODES else 0.0
        if self._ratings is None:
            self._ratings = await self.binding.read_ratings()
        charge_w, discharge_w = self._ratings
        payloads: dict[str, list[Any]] = {
            vocab.DEMAND: [vocab.kw(status.power_w)],
            vocab.CHARGE_LEVEL: [round(status.soc_pct / 100.0, 4)],
            vocab.CHARGEABLE: [vocab.kw(status.chargeable_wh)],
            vocab.DISCHARGEABLE: [vocab.kw(status.dischargeable_wh)],
            vocab.MAX_CHARGE: [vocab.kw(charge_w)],
            vocab.MAX_DISCHARGE: [vocab.kw(discharge_w)],
            vocab.RESERVE: [status.reserve_pct],
            vocab.MODE: [status.mode],
            vocab.ACTUAL_MODE: [status.actual_mode],
            vocab.TARGET: [vocab.kw(target_w)],
        }
        if status.charged_wh is not None and status.discharged_wh is not None:
            payloads[vocab.CHARGED] = [vocab.kw(status.charged_wh)]
            payloads[vocab.DISCHARGED] = [vocab.kw(status.discharged_wh)]
        return payloads


DR_MODES = ("charging", "discharging")


class WaterHeaterAdapter:
    """A heat-pump or hybrid water heater: a start-time event sets the heating plan; there is
    no DR mode to return from."""

    payload_types = frozenset({vocab.START_TIME})
    in_dr = False

    def __init__(self, binding: WaterHeaterBinding) -> None:
        self.binding = binding

    async def execute(self, instruction: Instruction) -> tuple[DrAck, bool]:
        values = instruction.values
        if len(values) != 1 or not isinstance(values[0], str):
            return DrAck(False, f"{vocab.START_TIME} needs one HH:MM"), False
        try:
            tod_s = tod_seconds(values[0])
        except ValueError as exc:
            return DrAck(False, str(exc)), False
        return await self.binding.request_start_time(tod_s), False

    async def end_dr(self, why: str) -> None:
        return None

    async def telemetry(self) -> dict[str, list[Any]]:
        status = await self.binding.heater_status()
        when = await self.binding.device_time()
        planned = await self.binding.planned_start()
        payloads: dict[str, list[Any]] = {
            vocab.DEMAND: [vocab.kw(status.power_w)],
            vocab.DEVICE_TIME: [when.strftime("%Y-%m-%dT%H:%M")],
            vocab.PLANNED_START: [vocab.NO_PLAN if planned is None else tod_text(planned)],
            vocab.DR_POSSIBLE: [vocab.kw(await self.binding.dr_possible_wh())],
            vocab.HEATING: [status.heating],
            vocab.ENERGY: [vocab.kw(status.energy_wh)],
            vocab.START_STEP: [self.binding.start_time_step_s()],
        }
        if status.aux_on is not None:
            payloads[vocab.AUX_HEATING] = [status.aux_on]
        return payloads


def _one_number(values: Sequence[Any]) -> float | None:
    if len(values) != 1 or isinstance(values[0], bool) or not isinstance(values[0], int | float):
        return None
    return float(values[0])


def instructions(event: Mapping[str, Any], wanted: frozenset[str]) -> list[Instruction]:
    """The payloads of the event's first interval that the device acts on."""
    found: list[Instruction] = []
    for interval in (event.get("intervals") or [])[:1]:
        for payload in interval.get("payloads") or []:
            if payload.get("type") in wanted:
                found.append(Instruction(payload["type"], tuple(payload.get("values") or ())))
    return found
