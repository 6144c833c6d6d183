"""What the reference VEN does with the device behind it, by device class.

The VEN (:mod:`drready.simulators.ven`) speaks OpenADR 3 upstream; downstream it is a home
gateway in front of the reference ECHONET Lite device, driving it with Get and SetC of the
DRready EPCs (:class:`~drready.simulators.echonet_peer.EchonetPeer`). An adapter turns an event's
payloads into those requests and the device's state into the report payloads of
:mod:`drready.openadr.vocab`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Protocol

from drready.simulators.echonet_peer import Answer, EchonetPeer

from drready.echonet.codec import Property
from drready.echonet.errors import DecodeError
from drready.echonet.gateway import Gateway
from drready.echonet.mapping import (
    BATTERY_MAPPING_DEFAULTS,
    WATER_HEATER_MAPPING_DEFAULTS,
    EpcMapping,
)
from drready.echonet.transport import Address
from drready.model import DAY_S, DeviceClass
from drready.openadr import vocab
from drready.timeofday import tod_seconds, tod_text

# Storage battery (0x027D) status, all in one Get (ECHONET Lite Appendix): measured power, mode,
# actual mode, SOC, chargeable and dischargeable energy, cumulative charged and discharged energy
# (the backup reserve is read where the mapping puts it).
_STATUS_EPCS = (0xD3, 0xDA, 0xCF, 0xE4, 0xA4, 0xA5, 0xA8, 0xA9)
EPC_MODE = 0xDA
EPC_RATED_CHARGE = 0xC8  # min/max charging power, W
EPC_RATED_DISCHARGE = 0xC9  # min/max discharging power, W

# Water heaters (0x026B, 0x02A6).
EPC_POWER = 0x84  # measured instantaneous power consumption, W
EPC_ENERGY = 0x85  # measured cumulative electric energy consumption, 0.001 kWh
EPC_HEATING = 0xB2  # water heating status
EPC_TIME = 0x97
EPC_DATE = 0x98
EPC_PARTICIPATION = 0xC7  # participation in energy shift (0x026B)
EPC_SHIFT_TIME_1 = 0xCA  # daytime heating shift time 1 (0x026B): hour, 0x00 = cleared
EPC_EXPECTED_ENERGY_1 = 0xCB  # expected energy at shift time 1: Wh at 10:00, 13:00, 15:00, 17:00
#: The shift times 0xCB gives an amount for, in order.
EXPECTED_ENERGY_TIMES = ((10, "at1000"), (13, "at1300"), (15, "at1500"), (17, "at1700"))


@dataclass(frozen=True)
class Instruction:
    """The part of an event the device acts on: one payload type and its values."""

    payload_type: str
    values: tuple[Any, ...]


class DeviceAdapter(Protocol):
    #: Event payload types this device acts on.
    payload_types: frozenset[str]
    peer: EchonetPeer

    async def execute(self, instruction: Instruction) -> tuple[Answer, bool]:
        """Carry out one instruction: the answer, and whether it started a DR that must be
        ended (at the event's end, its deletion or a comms loss)."""
        ...

    async def end_dr(self, why: str) -> None:
        """Return the device to the own mode it had before the DR (no-op without one)."""
        ...

    @property
    def in_dr(self) -> bool: ...

    async def telemetry(self) -> dict[str, list[Any]]: ...


DR_MODES = ("charging", "discharging")


class BatteryAdapter:
    """A storage battery: a setpoint event is a DR the VEN itself ends; a backup-reserve event
    is a setting."""

    payload_types = frozenset({vocab.SETPOINT, vocab.BACKUP_RESERVE})

    def __init__(self, peer: EchonetPeer) -> None:
        self.peer = peer
        self.pre_mode: str | None = None
        self._ratings: tuple[float, float] | None = None

    @property
    def in_dr(self) -> bool:
        return self.pre_mode is not None

    async def execute(self, instruction: Instruction) -> tuple[Answer, bool]:
        value = _one_number(instruction.values)
        if value is None:
            return Answer(False, f"{instruction.payload_type} needs one number"), False
        if instruction.payload_type == vocab.BACKUP_RESERVE:
            if not 0 <= value <= 100:
                return Answer(False, f"backup reserve {value:g} % is not 0..100"), False
            await self.peer.set([self.peer.item("backup_reserve_pct", value)])
            return Answer(True, f"backup reserve {value:g} %"), False
        # The mode the device runs before this DR; a DR replacing another keeps the first's.
        pre_mode = self.pre_mode or str(await self.peer.get_one(EPC_MODE))
        # No duration downstream: the VEN ends the DR itself, at the event's end. One SetC
        # carries the target power and the mode, so the device sees the whole request at once.
        target_w = vocab.watts(value)
        if target_w >= 0:
            name, mode = "target_charge_power_w", "charging"
        else:
            name, mode = "target_discharge_power_w", "discharging"
        answer = await self.peer.instruct(
            [self.peer.item(name, abs(target_w)), self.peer.standard(EPC_MODE, mode)]
        )
        if answer.accepted:
            self.pre_mode = pre_mode
        return answer, answer.accepted

    async def end_dr(self, why: str) -> None:
        if self.pre_mode is None:
            return
        mode, self.pre_mode = self.pre_mode, None
        await self.peer.set([self.peer.standard(EPC_MODE, mode)])

    async def _target_w(self) -> float:
        mode = await self.peer.get_one(EPC_MODE)
        discharging = mode == "discharging"
        value = await self.peer.get_item(
            "target_discharge_power_w" if discharging else "target_charge_power_w"
        )
        return -value if discharging else value

    async def _ratings_w(self) -> tuple[float, float]:
        values = await self.peer.get(EPC_RATED_CHARGE, EPC_RATED_DISCHARGE)
        charge, discharge = values[EPC_RATED_CHARGE], values[EPC_RATED_DISCHARGE]
        if not isinstance(charge, dict) or not isinstance(discharge, dict):
            raise DecodeError(f"0xC8/0xC9: expected min/max pairs, got {charge!r}, {discharge!r}")
        return float(charge["maxValue"]), float(discharge["maxValue"])

    async def telemetry(self) -> dict[str, list[Any]]:
        reserve_epc = self.peer.mapping["backup_reserve_pct"].epc
        epcs = tuple(dict.fromkeys((*_STATUS_EPCS, reserve_epc)))
        values = await self.peer.get(*epcs)

        def num(epc: int) -> float:
            value = values[epc]
            if not isinstance(value, int | float):
                raise DecodeError(f"EPC 0x{epc:02X}: expected a number, got {value!r}")
            return float(value)

        mode = str(values[EPC_MODE])
        power_w, soc_pct = num(0xD3), num(0xE4)
        chargeable_wh, dischargeable_wh = num(0xA4), num(0xA5)
        charged_wh, discharged_wh = num(0xA8) * 1000.0, num(0xA9) * 1000.0
        reserve_pct = num(reserve_epc)
        target_w = await self._target_w() if mode in DR_MODES else 0.0
        if self._ratings is None:
            self._ratings = await self._ratings_w()
        charge_w, discharge_w = self._ratings
        return {
            vocab.DEMAND: [vocab.kw(power_w)],
            vocab.CHARGE_LEVEL: [round(soc_pct / 100.0, 4)],
            vocab.CHARGEABLE: [vocab.kw(chargeable_wh)],
            vocab.DISCHARGEABLE: [vocab.kw(dischargeable_wh)],
            vocab.MAX_CHARGE: [vocab.kw(charge_w)],
            vocab.MAX_DISCHARGE: [vocab.kw(discharge_w)],
            vocab.RESERVE: [reserve_pct],
            vocab.MODE: [mode],
            vocab.ACTUAL_MODE: [str(values[0xCF])],
            vocab.TARGET: [vocab.kw(target_w)],
            vocab.CHARGED: [vocab.kw(charged_wh)],
            vocab.DISCHARGED: [vocab.kw(discharged_wh)],
        }


class WaterHeaterAdapter:
    """A heat-pump or hybrid water heater: a start-time event sets the heating plan; there is
    no DR mode to return from."""

    payload_types = frozenset({vocab.START_TIME})
    in_dr = False

    def __init__(
        self, peer: EchonetPeer, device_class: DeviceClass, evaluation_start_s: float
    ) -> None:
        self.peer = peer
        self.device_class = device_class
        #: The start the DR-possible amount is read for when there is no plan.
        self.evaluation_start_s = evaluation_start_s

    async def execute(self, instruction: Instruction) -> tuple[Answer, bool]:
        values = instruction.values
        if len(values) != 1 or not isinstance(values[0], str):
            return Answer(False, f"{vocab.START_TIME} needs one HH:MM"), False
        try:
            tod_s = tod_seconds(values[0])
        except ValueError as exc:
            return Answer(False, str(exc)), False
        props: list[Property] = []
        if self.device_class is DeviceClass.HEATPUMP:
            # The standard energy shift: the device takes part, starting its daytime heating at
            # the shift time (0xC7 "participation", set together with the time).
            props.append(Property(EPC_PARTICIPATION, b"\x01"))
        props.append(self.peer.item("dr_start_time_s", tod_s))
        return await self.peer.instruct(props), False

    async def end_dr(self, why: str) -> None:
        return None

    async def _device_time(self) -> datetime:
        values = await self.peer.get(EPC_TIME, EPC_DATE)
        clock, day = values[EPC_TIME], values[EPC_DATE]
        if not isinstance(clock, time) or not isinstance(day, date):
            raise DecodeError(f"0x97/0x98: expected a time and a date, got {clock!r}, {day!r}")
        return datetime.combine(day, clock.replace(second=0, microsecond=0))

    async def _planned_start(self) -> float | None:
        item = self.peer.mapping["planned_start_time_s"]
        value = await self.peer.get_item("planned_start_time_s")
        if (item.epc == EPC_SHIFT_TIME_1 and value == 0) or value >= DAY_S:
            return None  # 0xCA: 0x00 is "cleared"; a maker item past 24 h means no plan
        return value

    async def _dr_possible_wh(self) -> float:
        if "dr_possible_wh" in self.peer.mapping:
            return await self.peer.get_item("dr_possible_wh")
        planned = await self._planned_start()
        start = planned if planned is not None else self.evaluation_start_s
        table = await self.peer.get_one(EPC_EXPECTED_ENERGY_1)
        if not isinstance(table, dict):
            raise DecodeError(f"0xCB: expected four amounts, got {table!r}")
        hour = start / 3600
        key = next((k for h, k in EXPECTED_ENERGY_TIMES if hour <= h), "at1700")
        return float(table[key])

    async def telemetry(self) -> dict[str, list[Any]]:
        epcs = [EPC_POWER, EPC_HEATING, EPC_ENERGY]
        aux = self.peer.mapping.get("aux_heater_on")
        if aux is not None:
            epcs.append(aux.epc)
        values = await self.peer.get(*epcs)
        power, energy = values[EPC_POWER], values[EPC_ENERGY]
        if not isinstance(power, int | float) or not isinstance(energy, int | float):
            raise DecodeError(f"0x84/0x85: expected numbers, got {power!r}, {energy!r}")
        heating = values[EPC_HEATING]
        when = await self._device_time()
        planned = await self._planned_start()
        payloads: dict[str, list[Any]] = {
            vocab.DEMAND: [vocab.kw(float(power))],
            vocab.DEVICE_TIME: [when.strftime("%Y-%m-%dT%H:%M")],
            vocab.PLANNED_START: [vocab.NO_PLAN if planned is None else tod_text(planned)],
            vocab.DR_POSSIBLE: [vocab.kw(await self._dr_possible_wh())],
            vocab.HEATING: [heating is True or heating == "true"],
            vocab.ENERGY: [vocab.kw(float(energy) * 1000.0)],
            vocab.START_STEP: [self.peer.mapping["dr_start_time_s"].scale],
        }
        if aux is not None:
            payloads[vocab.AUX_HEATING] = [bool(values[aux.epc])]
        return payloads


def adapter_for(
    device_class: DeviceClass,
    gateway: Gateway,
    address: Address,
    *,
    instance: int,
    mapping: Mapping[str, EpcMapping],
    evaluation_start_s: float,
) -> DeviceAdapter:
    """The adapter of ``device_class`` over the device object at ``address``; ``mapping``
    overlays the class's standard DRready EPCs."""
    class_code = device_class.echonet_class_id
    if device_class is DeviceClass.BATTERY:
        peer = EchonetPeer(
            gateway, address, class_code, instance, {**BATTERY_MAPPING_DEFAULTS, **mapping}
        )
        return BatteryAdapter(peer)
    defaults = WATER_HEATER_MAPPING_DEFAULTS[device_class]
    peer = EchonetPeer(gateway, address, class_code, instance, {**defaults, **mapping})
    return WaterHeaterAdapter(peer, device_class, evaluation_start_s)


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
