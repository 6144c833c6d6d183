"""Battery operations over ECHONET Lite, the harness acting as home gateway (gateway topology).

A DR request is one SetC carrying the optional duration (maker EPC, profile-mapped), the target
power (0xEB charging / 0xEC discharging, W) and the operation mode (0xDA), so the device sees the
whole request at once. A mode written alone is the user's choice of the device's own mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from drready.bindings.echonet_common import EchonetDeviceBinding, EchonetGateway
from drready.bindings.types import Capabilities, DrAck, Status
from drready.echonet.codec import Property
from drready.echonet.errors import DecodeError, RemoteError
from drready.echonet.mapping import BATTERY_MAPPING_DEFAULTS, EpcMapping
from drready.echonet.transport import Address

if TYPE_CHECKING:
    from drready.bindings.modbus_battery import Meter

STORAGE_BATTERY_CLASS = 0x027D

# Status snapshot: everything the suites sample, in one Get (ECHONET Lite Appendix R, 0x027D).
_STATUS_EPCS = (0xD3, 0xDA, 0xCF, 0xE4, 0xA4, 0xA5, 0xA8, 0xA9, 0xA7)


class EchonetBatteryBinding(EchonetDeviceBinding):
    capabilities = Capabilities(echonet_lite_node=True, own_direction_modes=True)

    def __init__(
        self,
        gateway: EchonetGateway,
        address: Address,
        instance: int = 1,
        mapping: Mapping[str, EpcMapping] | None = None,
        *,
        discovery_address: Address | None = None,
        meter: Meter | None = None,
    ) -> None:
        super().__init__(
            gateway,
            address,
            STORAGE_BATTERY_CLASS,
            instance,
            {**BATTERY_MAPPING_DEFAULTS, **(mapping or {})},
            discovery_address=discovery_address,
        )
        #: The independent meter the profile declares (Modbus TCP, whatever this binding is).
        self.meter = meter

    # -- DR ------------------------------------------------------------------------------------
    async def request_power(self, target_w: float, duration_s: float | None) -> DrAck:
        props: list[Property] = []
        if duration_s is not None and "dr_duration_s" in self.mapping:
            item = self.mapped("dr_duration_s")
            props.append(Property(item.epc, item.encode(duration_s)))
        if target_w >= 0:
            item, mode = self.mapped("target_charge_power_w"), "charging"
        else:
            item, mode = self.mapped("target_discharge_power_w"), "discharging"
        props.append(Property(item.epc, item.encode(abs(target_w))))
        props.append(Property(0xDA, self.classdef.properties[0xDA].encode(mode)))
        try:
            await self.gateway.set_c(self.address, self.eoj, props)
        except RemoteError as exc:
            return DrAck(False, f"refused: {exc}")
        return DrAck(True, "Set_Res")

    async def read_target_w(self) -> float:
        # The mode and both targets in one Get; only the mode's target has to be served.
        charge = self.mapped("target_charge_power_w")
        discharge = self.mapped("target_discharge_power_w")
        read = await self.read_raw((0xDA, charge.epc, discharge.epc))
        if 0xDA in read.refused:
            raise read.refused[0xDA]
        discharging = self.decode(0xDA, read.values[0xDA]) == "discharging"
        item = discharge if discharging else charge
        if item.epc in read.refused:
            raise read.refused[item.epc]
        value = item.decode(read.values[item.epc])
        return -value if discharging else value

    async def set_own_mode(self, mode: str) -> None:
        await self.gateway.set_c(
            self.address, self.eoj, [Property(0xDA, self.classdef.properties[0xDA].encode(mode))]
        )

    async def read_mode(self) -> str:
        return str(await self.get_one(0xDA))

    async def release_dr(self, own_mode: str) -> None:
        # ECHONET Lite has no "end of DR" of its own: the operation mode (0xDA) written alone is
        # the user choosing the device's own mode, which ends any DR.
        await self.set_own_mode(own_mode)

    async def read_ratings(self) -> tuple[float, float]:
        values = await self.get(0xC8, 0xC9)
        charge, discharge = values[0xC8], values[0xC9]
        if not isinstance(charge, dict) or not isinstance(discharge, dict):
            raise DecodeError(f"0xC8/0xC9: expected min/max pairs, got {charge!r}, {discharge!r}")
        return float(charge["maxValue"]), float(discharge["maxValue"])

    async def status(self) -> Status:
        reserve = self.mapped("backup_reserve_pct")
        epcs = tuple(dict.fromkeys((*_STATUS_EPCS[:-1], reserve.epc)))
        values = await self.get(*epcs)

        def num(epc: int) -> float:
            value = values[epc]
            if not isinstance(value, int | float):
                raise DecodeError(f"EPC 0x{epc:02X}: expected a number, got {value!r}")
            return float(value)

        power_w = num(0xD3)
        meter_w: float | None = None
        power_at: float | None = None
        meter_at: float | None = None
        if self.meter is not None:
            power_w, power_at, meter_w, meter_at = await self._power_and_meter()
        return Status(
            power_w=power_w,
            mode=str(values[0xDA]),
            actual_mode=str(values[0xCF]),
            soc_pct=num(0xE4),
            chargeable_wh=num(0xA4),
            dischargeable_wh=num(0xA5),
            charged_wh=num(0xA8) * 1000.0,
            discharged_wh=num(0xA9) * 1000.0,
            reserve_pct=num(reserve.epc),
            meter_power_w=meter_w,
            working_status=str(values[0xCF]),
            power_read_at=power_at,
            meter_read_at=meter_at,
        )

    async def _power_and_meter(self) -> tuple[float, float, float, float]:
        """The device's power (0xD3) alone and the meter's right after it, as one timed pair
        (:meth:`Meter.read_pair`)."""
        assert self.meter is not None
        # The meter is the lab's own instrument: a comms cut to the device leaves it alone.
        if not self.meter.client.connected:
            await self.meter.client.connect()

        async def read_power() -> float:
            value = (await self.get(0xD3))[0xD3]
            if not isinstance(value, int | float):
                raise DecodeError(f"EPC 0xD3: expected a number, got {value!r}")
            return float(value)

        return await self.meter.read_pair(read_power)

    def close(self) -> None:
        try:
            if self.meter is not None:
                self.meter.client.close()
        finally:
            super().close()

    async def set_backup_reserve_pct(self, pct: float) -> None:
        item = self.mapped("backup_reserve_pct")
        await self.gateway.set_c(self.address, self.eoj, [Property(item.epc, item.encode(pct))])
