"""Water-heater operations over ECHONET Lite, the harness acting as home gateway.

Heat-pump water heaters (class 0x026B) take a DR as the standard energy shift: one SetC of
"participation in energy shift" (0xC7 = participate) and "daytime heating shift time 1" (0xCA),
unless the profile maps the start time elsewhere. Hybrid water heaters (0x02A6) have no standard
energy-shift properties; their DRready items are where the profile maps them (maker EPCs).
Start times are seconds after the device's local midnight; the device's local time is read from
its own clock (0x97 current time, 0x98 current date), because that is the clock its plan runs on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time

from drready.bindings.echonet_common import EchonetDeviceBinding, EchonetGateway
from drready.bindings.types import (
    ENERGY_WITNESS,
    POWER_WITNESS,
    STATUS_WITNESS,
    DrAck,
    HeaterStatus,
)
from drready.echonet.codec import Property
from drready.echonet.errors import DecodeError, RemoteError
from drready.echonet.mapping import WATER_HEATER_MAPPING_DEFAULTS, EpcMapping
from drready.echonet.transport import Address
from drready.model import DAY_S, DeviceClass
from drready.profile import WaterHeaterSpec

#: The ECHONET Lite class of each water heater (heat pump 0x026B, hybrid 0x02A6).
CLASS_CODES: Mapping[DeviceClass, int] = {
    device_class: device_class.echonet_class_id
    for device_class in DeviceClass
    if device_class.is_water_heater
}

EPC_POWER = 0x84  # measured instantaneous power consumption, W
EPC_ENERGY = 0x85  # measured cumulative electric energy consumption, 0.001 kWh
EPC_AUTO_HEATING = 0xB0  # automatic water heating setting: auto / manual heating / manual stop
EPC_HEATING = 0xB2  # water heating status: heating / not heating
#: The witnesses of the heating a water heater may offer (0x84 and 0x85 are optional in the
#: MRA; 0xB2 is required of the heat pump, optional for the hybrid), by the EPC that gives each.
WITNESS_EPCS: Mapping[str, int] = {
    POWER_WITNESS: EPC_POWER,
    ENERGY_WITNESS: EPC_ENERGY,
    STATUS_WITNESS: EPC_HEATING,
}
EPC_PARTICIPATION = 0xC7  # participation in energy shift (0x026B, Release I+)
EPC_SHIFT_TIME_1 = 0xCA  # daytime heating shift time 1 (0x026B): hour, 0x00 = cleared
EPC_EXPECTED_ENERGY_1 = 0xCB  # expected energy at shift time 1: Wh at 10:00, 13:00, 15:00, 17:00
#: The shift times 0xCB gives an amount for, in order (ECHONET Lite Appendix, 0x026B 0xCB).
EXPECTED_ENERGY_TIMES = ((10, "at1000"), (13, "at1300"), (15, "at1500"), (17, "at1700"))


def _truthy(value: object) -> bool:
    return value is True or value == "true"


def no_plan_value(item: EpcMapping) -> float:
    """The item value that withdraws a start time: raw 0x00 ("cleared") on the standard 0xCA,
    else the largest raw value, past 24 h (how the harness reads "no plan" on a maker item)."""
    if item.epc == EPC_SHIFT_TIME_1:
        return 0.0
    bits = 8 * item.size - (1 if item.signed else 0)
    return float((1 << bits) - 1) * item.scale


class EchonetWaterHeaterBinding(EchonetDeviceBinding):
    def __init__(
        self,
        gateway: EchonetGateway,
        address: Address,
        device_class: str,
        spec: WaterHeaterSpec,
        instance: int = 1,
        mapping: Mapping[str, EpcMapping] | None = None,
        *,
        discovery_address: Address | None = None,
    ) -> None:
        super().__init__(
            gateway,
            address,
            CLASS_CODES[DeviceClass(device_class)],
            instance,
            {**WATER_HEATER_MAPPING_DEFAULTS[device_class], **(mapping or {})},
            discovery_address=discovery_address,
        )
        self.device_class = DeviceClass(device_class)
        self.spec = spec
        #: The Get property map (0x9F), read once when a reading first needs it.
        self._get_map: frozenset[int] | None = None

    # -- the device's clock ------------------------------------------------------------------
    async def device_time(self) -> datetime:
        """The device's local date and time (minute resolution, as 0x97 gives it)."""
        values = await self.get(0x97, 0x98)
        clock, day = values[0x97], values[0x98]
        if not isinstance(clock, time) or not isinstance(day, date):
            raise DecodeError(f"0x97/0x98: expected a time and a date, got {clock!r}, {day!r}")
        return datetime.combine(day, clock.replace(second=0, microsecond=0))

    # -- DR: *-2.2 / *-2.3 -------------------------------------------------------------------
    def start_time_step_s(self) -> float:
        """The resolution of the start-time item: a request between steps cannot be encoded."""
        return self.mapping["dr_start_time_s"].scale

    async def request_start_time(self, tod_s: float) -> DrAck:
        item = self.mapping["dr_start_time_s"]
        props: list[Property] = []
        if self.device_class is DeviceClass.HEATPUMP:
            # The standard energy shift: the device takes part, starting its daytime heating at
            # the shift time (0xC7 "participation", set together with the time).
            props.append(Property(EPC_PARTICIPATION, b"\x01"))
        props.append(Property(item.epc, item.encode(tod_s)))
        try:
            await self.gateway.set_c(self.address, self.eoj, props)
        except RemoteError as exc:
            return DrAck(False, f"refused: {exc}")
        return DrAck(True, "Set_Res")

    async def clear_start_time(self) -> DrAck:
        """Withdraw the DR start time: the heat pump leaves the energy shift (0xC7 = 0x00) and
        its shift time is cleared (0xCA = 0x00), in one SetC as the request was made."""
        item = self.mapping["dr_start_time_s"]
        props: list[Property] = []
        if self.device_class is DeviceClass.HEATPUMP:
            props.append(Property(EPC_PARTICIPATION, b"\x00"))
        props.append(Property(item.epc, item.encode(no_plan_value(item))))
        try:
            await self.gateway.set_c(self.address, self.eoj, props)
        except RemoteError as exc:
            return DrAck(False, f"refused: {exc}")
        return DrAck(True, "Set_Res")

    async def planned_start(self) -> float | None:
        item = self.mapping["planned_start_time_s"]
        raw = (await self.gateway.get(self.address, self.eoj, [item.epc]))[item.epc]
        value = item.decode(raw)
        if (item.epc == EPC_SHIFT_TIME_1 and value == 0) or value >= DAY_S:
            return None  # 0xCA: 0x00 is "cleared"; a maker item past 24 h means no plan
        return value

    # -- *-2.1 ---------------------------------------------------------------------------------
    async def dr_possible_wh(self) -> float:
        """The DR-possible amount for the planned start time (the evaluation start if none)."""
        if "dr_possible_wh" in self.mapping:
            item = self.mapping["dr_possible_wh"]
            raw = (await self.gateway.get(self.address, self.eoj, [item.epc]))[item.epc]
            return item.decode(raw)
        planned = await self.planned_start()
        start = planned if planned is not None else self.spec.evaluation_start_s
        table = await self.get_one(EPC_EXPECTED_ENERGY_1)
        if not isinstance(table, dict):
            raise DecodeError(f"0xCB: expected four amounts, got {table!r}")
        # 0xCB gives amounts for shift times 10, 13, 15 and 17 h; a start between them is read
        # from the next one (harness reading: the amount of the slot the start falls in).
        hour = start / 3600
        key = next((k for h, k in EXPECTED_ENERGY_TIMES if hour <= h), "at1700")
        return float(table[key])

    # -- *-2.4 and the heating seen from outside -------------------------------------------
    async def offered(self) -> frozenset[int]:
        """The Get property map, read once; a device whose map cannot be read is asked for
        every witness (a refusal then says which it lacks)."""
        if self._get_map is None:
            try:
                self._get_map = (await self.gateway.read_property_maps(self.address, self.eoj)).get
            except RemoteError:
                self._get_map = frozenset(WITNESS_EPCS.values()) | {EPC_AUTO_HEATING}
        return self._get_map

    async def heating_mode(self) -> str | None:
        if EPC_AUTO_HEATING not in await self.offered():
            return None
        return str(await self.get_one(EPC_AUTO_HEATING))

    async def heater_status(self) -> HeaterStatus:
        """One Get of every witness of the heating the Get map lists (power 0x84, energy 0x85,
        heating status 0xB2) and the auxiliary heater where mapped."""
        offered = await self.offered()
        witnesses = tuple(name for name, epc in WITNESS_EPCS.items() if epc in offered)
        epcs = [WITNESS_EPCS[name] for name in witnesses]
        aux = self.mapping.get("aux_heater_on")
        if aux is not None:
            epcs.append(aux.epc)
        values = await self.get(*epcs) if epcs else {}
        power, energy = values.get(EPC_POWER, 0), values.get(EPC_ENERGY, 0)
        if not isinstance(power, int | float) or not isinstance(energy, int | float):
            raise DecodeError(f"0x84/0x85: expected numbers, got {power!r}, {energy!r}")
        return HeaterStatus(
            power_w=float(power),
            heating=_truthy(values.get(EPC_HEATING)),
            aux_on=None if aux is None else bool(values[aux.epc]),
            energy_wh=float(energy) * 1000.0,
            witnesses=witnesses,
        )
