"""Battery operations over SunSpec Modbus TCP: a PCS or battery behind a certified gateway's local
link, the harness acting as that gateway (gateway topology, ``device.binding = "modbus"``).

- identity: model 1 (Mn maker, Md model, SN serial; Vr the firmware version);
- ratings, state of charge, the backup reserve (SoCRsvMin), measured power (W) and the
  controller heartbeat (CtrlHb): model 802, the battery base model;
- a DR request: model 704 (DER AC controls) WSetMod = watts, WSet (SunSpec sign: + injecting,
  i.e. discharging), WSetRvrtTms = the duration (0: none), then WSetEna = enabled. When the
  reversion time runs out the device reverts by itself (WSetEnaRvrt: disabled), which is its
  own mode; WSetEna = disabled written by the harness ends the DR at once;
- comms loss: the harness writes the controller heartbeat (802 CtrlHb) on every exchange, at
  least every ``heartbeat_s``; a cut stops every write, heartbeat included.

Power is signed for the facade as everywhere in drready: + charging, - discharging. Model 802 has
no energy counters, so the cumulative charged/discharged energy is not reported (None); when an
independent meter is declared, the meter's own counters and power are read beside the device's.
"""

from __future__ import annotations

import asyncio

from drready.dut_types import CommunicationReport, DrAck, Identity, Status
from drready.modbus.client import SunSpecClient
from drready.modbus.errors import ModbusError, ModbusExceptionResponse
from drready.modbus.registers import Value

COMMON, BATTERY, CONTROLS, METER = 1, 802, 704, 203
#: WSetMod: the setpoint is in watts (SunSpec model 704 symbol WATTS).
WSET_MODE_WATTS = 1
ENABLED, DISABLED = 1, 0
#: The controller heartbeat wraps at 16 bits.
HEARTBEAT_MODULO = 0x10000
#: The facade's own mode name for "the device runs itself" (no DR setpoint enabled).
OWN_MODE = "auto"


def _number(values: dict[str, Value | None], name: str, model: int) -> float:
    value = values.get(name)
    if not isinstance(value, int | float):
        raise ModbusError(f"model {model} point {name}: expected a number, got {value!r}")
    return float(value)


class ModbusBatteryBinding:
    protocol = "SunSpec Modbus"
    topology = "gateway"

    def __init__(
        self,
        device: SunSpecClient,
        meter: SunSpecClient | None = None,
        *,
        heartbeat_s: float = 10.0,
    ) -> None:
        self.device = device
        self.meter = meter
        self.heartbeat_s = heartbeat_s
        self.silent = False
        self._heartbeat = 0
        self._last_heartbeat: float | None = None

    # -- plumbing ------------------------------------------------------------------------------
    async def _connected(self) -> None:
        """Ready to talk: not cut off, and connected (again, after a dropped link)."""
        if self.silent:
            raise ModbusError("communication is cut: the harness sends nothing")
        for client in (self.device, self.meter):
            if client is not None and not client.connected:
                await client.connect()

    async def _beat(self) -> None:
        """Write the controller heartbeat when it is due: the harness is alive."""
        if self.silent:
            return
        now = asyncio.get_running_loop().time()
        if self._last_heartbeat is None or now - self._last_heartbeat >= self.heartbeat_s:
            self._heartbeat = (self._heartbeat + 1) % HEARTBEAT_MODULO
            await self.device.write_points(BATTERY, {"CtrlHb": self._heartbeat})
            self._last_heartbeat = now

    async def _read(self, model: int, names: list[str]) -> dict[str, Value | None]:
        await self._connected()
        values = await self.device.read_points(model, names)
        await self._beat()
        return values

    async def _write(self, model: int, values: dict[str, Value | None]) -> None:
        await self._connected()
        await self.device.write_points(model, values)
        await self._beat()

    # -- *-1.1 ---------------------------------------------------------------------------------
    async def communication_check(self) -> CommunicationReport:
        problems: list[str] = []
        try:
            await self._connected()
            models = await self.device.discover()
        except ModbusError as exc:
            return CommunicationReport(False, (), (), (), (f"SunSpec discovery failed: {exc}",))
        found = {m.id for m in models}
        for needed, what in ((COMMON, "common"), (BATTERY, "battery"), (CONTROLS, "DER controls")):
            if needed not in found:
                problems.append(f"no SunSpec model {needed} ({what}) in the device's chain")
        for discovered in models:
            if discovered.definition is None:
                continue
            try:
                await self.device.read_model(discovered.id)
            except ModbusError as exc:
                problems.append(f"model {discovered.id} unreadable: {exc}")
        instances = tuple(f"model {m.id}@{m.address}+{m.length}" for m in models)
        return CommunicationReport(bool(models), instances, (), (), tuple(problems))

    # -- identity and protocol -----------------------------------------------------------------
    async def identity(self) -> Identity:
        values = await self._read(COMMON, ["Mn", "Md", "SN"])

        def text(name: str) -> str | None:
            value = values.get(name)
            return str(value).strip() or None if value is not None else None

        serial = text("SN")
        return Identity(
            identification_number=serial,
            manufacturer_code=text("Mn"),
            product_code=text("Md"),
            serial_number=serial,
        )

    async def appendix_release(self) -> str | None:
        return None  # an ECHONET Lite notion

    async def node_version(self) -> str | None:
        values = await self._read(COMMON, ["Vr"])
        version = values.get("Vr")
        return None if version is None else str(version).strip() or None

    # -- DR ------------------------------------------------------------------------------------
    async def request_power(self, target_w: float, duration_s: float | None) -> DrAck:
        try:
            await self._write(
                CONTROLS,
                {
                    "WSetMod": WSET_MODE_WATTS,
                    "WSet": -target_w,  # SunSpec: + injects (discharges); the facade: + charges
                    "WSetRvrtTms": round(duration_s) if duration_s else 0,
                },
            )
            await self._write(CONTROLS, {"WSetEna": ENABLED})
        except ModbusExceptionResponse as exc:
            return DrAck(False, f"refused: {exc}")
        return DrAck(True, "written")

    async def read_target_w(self) -> float:
        values = await self._read(CONTROLS, ["WSet"])
        return -_number(values, "WSet", CONTROLS)

    async def set_own_mode(self, mode: str) -> None:
        if mode != OWN_MODE:
            raise ModbusError(
                f"own mode {mode!r}: over SunSpec the device's own mode is only {OWN_MODE!r} "
                "(no DR setpoint enabled)"
            )
        await self._write(CONTROLS, {"WSetEna": DISABLED})

    async def read_mode(self) -> str:
        values = await self._read(CONTROLS, ["WSetEna", "WSet"])
        if values.get("WSetEna") != ENABLED:
            return OWN_MODE
        return "discharging" if _number(values, "WSet", CONTROLS) > 0 else "charging"

    async def read_ratings(self) -> tuple[float, float]:
        values = await self._read(BATTERY, ["WChaRteMax", "WDisChaRteMax"])
        return _number(values, "WChaRteMax", BATTERY), _number(values, "WDisChaRteMax", BATTERY)

    async def status(self) -> Status:
        battery = await self._read(BATTERY, ["W", "SoC", "SoCRsvMin", "WHRtg"])
        mode = await self.read_mode()
        soc = _number(battery, "SoC", BATTERY)
        reserve = _number(battery, "SoCRsvMin", BATTERY)
        capacity = _number(battery, "WHRtg", BATTERY)
        meter_w: float | None = None
        if self.meter is not None:
            readings = await self.meter.read_points(METER, ["W"])
            meter_w = _number(readings, "W", METER)
        return Status(
            power_w=-_number(battery, "W", BATTERY),  # 802 W: + discharging
            mode=mode,
            actual_mode=mode,
            soc_pct=soc,
            chargeable_wh=max(0.0, (100.0 - soc) / 100.0 * capacity),
            dischargeable_wh=max(0.0, (soc - reserve) / 100.0 * capacity),
            charged_wh=None,
            discharged_wh=None,
            reserve_pct=reserve,
            meter_power_w=meter_w,
        )

    async def set_backup_reserve_pct(self, pct: float) -> None:
        await self._write(BATTERY, {"SoCRsvMin": pct})

    # -- comms loss ----------------------------------------------------------------------------
    def cut_comms(self) -> None:
        self.silent = True

    def restore_comms(self) -> None:
        self.silent = False

    def close(self) -> None:
        for client in (self.device, self.meter):
            if client is not None:
                client.close()
