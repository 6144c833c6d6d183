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

Every quantity goes through a :class:`~drready.modbus.pointmap.PointMap`: model 802, or model 124
(storage) with 101 (inverter power) and the declared capacity and discharge rating; a profile's
``[modbus.points]`` overrides any of them, and a device that is not SunSpec (``sunspec = false``)
is driven by that register map alone. Without a heartbeat point the harness's periodic reads are
the only sign of life, and the reversion timer is what returns the device on comms loss.

Power is signed for the facade as everywhere in drready: + charging, - discharging. Models 802 and
124 have no energy counters, so the cumulative charged/discharged energy is reported only when the
register map gives it (None otherwise); when an independent meter is declared, its power is read
right after the device's, both timed (``Status.power_read_at``, ``meter_read_at``), so that the
meter comparison judges only pairs read at nearly one instant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

from drready.bindings.base import ServerPathBinding
from drready.bindings.types import (
    Capabilities,
    CommunicationReport,
    DrAck,
    Identity,
    NotApplicable,
    Status,
)
from drready.modbus.client import SunSpecClient
from drready.modbus.errors import ModbusError, ModbusExceptionResponse
from drready.modbus.pointmap import (
    Declared,
    PointMap,
    RegisterPoint,
    Source,
    SunSpecRef,
    sunspec_sources,
)
from drready.modbus.registers import Value
from drready.model import Binding, Topology

COMMON, BATTERY, STORAGE, INVERTER, CONTROLS, METER = 1, 802, 124, 101, 704, 203
#: WSetMod: the setpoint is in watts (SunSpec model 704 symbol WATTS).
WSET_MODE_WATTS = 1
ENABLED, DISABLED = 1, 0
#: The controller heartbeat wraps at 16 bits.
HEARTBEAT_MODULO = 0x10000
#: Attempts at reading the device's power and the meter's back to back (see ``status``).
PAIR_READS = 2
#: A meter reply later than this fraction of its request timeout after the device's: an attempt
#: was lost between the two readings (a retry waits a whole timeout first).
TORN_PAIR_FRACTION = 0.5
#: The facade's own mode name for "the device runs itself" (no DR setpoint enabled).
OWN_MODE = "auto"


def _number(values: Mapping[str, Value | None], name: str, where: str) -> float:
    value = values.get(name)
    if not isinstance(value, int | float):
        raise ModbusError(f"{where}: expected a number for {name}, got {value!r}")
    return float(value)


class Meter:
    """The independent meter: SunSpec model 203 ``W``, or a register the profile maps.

    Its power is positive when the battery charges (the meter sits on the battery's feed).
    """

    def __init__(self, client: SunSpecClient, power: RegisterPoint | None = None) -> None:
        self.client = client
        self._points = PointMap(client, {"power_w": power}) if power is not None else None

    async def power_w(self) -> float:
        if self._points is not None:
            return _number(await self._points.read(["power_w"]), "power_w", "meter register")
        return _number(await self.client.read_points(METER, ["W"]), "W", "meter model 203")

    async def read_pair(
        self, read_power: Callable[[], Awaitable[float]]
    ) -> tuple[float, float, float, float]:
        """The device's power (``read_power``) and this meter's, read back to back: (device W,
        time the device was asked, meter W, time the meter answered), times in loop seconds.

        The request's time, not the reply's: the device's reading lies somewhere in between, and
        its read may itself be retried, so from that request to the meter's reply bounds the time
        between the two readings. A pair a lost attempt tore apart (TORN_PAIR_FRACTION of the
        meter's timeout or more) is read once more, so that the two witnesses describe nearly
        one instant; whatever lag remains is reported, not hidden."""
        loop = asyncio.get_running_loop()
        power_w = power_at = meter_w = meter_at = 0.0
        for _ in range(PAIR_READS):
            power_at = loop.time()
            power_w = await read_power()
            meter_w = await self.power_w()
            meter_at = loop.time()
            if meter_at - power_at < TORN_PAIR_FRACTION * self.client.timeout_s:
                break
        return power_w, power_at, meter_w, meter_at


class ModbusBatteryBinding:
    protocol = Binding.MODBUS.protocol
    topology = Topology.GATEWAY
    #: SunSpec has no own charging or discharging mode: only a DR moves energy.
    capabilities = Capabilities()

    def __init__(
        self,
        device: SunSpecClient,
        meter: Meter | None = None,
        *,
        heartbeat_s: float = 10.0,
        sunspec: bool = True,
        storage_model: int | None = None,
        overrides: Mapping[str, RegisterPoint] | None = None,
        declared: Mapping[str, Declared] | None = None,
    ) -> None:
        self.device = device
        self.meter = meter
        self.heartbeat_s = heartbeat_s
        self.sunspec = sunspec
        self.storage_model = storage_model
        self.overrides = dict(overrides or {})
        self.declared = dict(declared or {})
        self.silent = False
        self._points: PointMap | None = None
        self._heartbeat = 0
        self._last_heartbeat: float | None = None
        if not sunspec:
            self.protocol = "Modbus (register map)"

    @property
    def local_address(self) -> tuple[str, int] | None:
        return None  # no ECHONET Lite socket: nothing for the bundle's pcapng trace

    @property
    def server_path(self) -> ServerPathBinding | None:
        return None

    # -- plumbing ------------------------------------------------------------------------------
    async def _connected(self) -> None:
        """Ready to talk: not cut off, and connected (again, after a dropped link)."""
        if self.silent:
            raise ModbusError("communication is cut: the harness sends nothing")
        for client in (self.device, self.meter.client if self.meter else None):
            if client is not None and not client.connected:
                await client.connect()

    async def _storage_model(self) -> int:
        if self.storage_model is not None:
            return self.storage_model
        found = {m.id for m in await self.device.discover()}
        for candidate in (BATTERY, STORAGE):
            if candidate in found:
                return candidate
        raise ModbusError(
            f"the device has neither SunSpec model {BATTERY} (battery) nor {STORAGE} (storage); "
            f"models: {sorted(found)}"
        )

    async def points(self) -> PointMap:
        """Where each quantity comes from (decided once, after discovery when SunSpec)."""
        if self._points is None:
            sources: dict[str, Source] = dict(self.declared)
            if self.sunspec:
                await self._connected()
                sources |= sunspec_sources(await self._storage_model())
            sources |= self.overrides
            self._points = PointMap(self.device, sources)
        return self._points

    async def _beat(self, points: PointMap) -> None:
        """Write the controller heartbeat when it is due: the harness is alive."""
        if self.silent or not points.has("heartbeat"):
            return
        now = asyncio.get_running_loop().time()
        if self._last_heartbeat is None or now - self._last_heartbeat >= self.heartbeat_s:
            self._heartbeat = (self._heartbeat + 1) % HEARTBEAT_MODULO
            await points.write({"heartbeat": self._heartbeat})
            self._last_heartbeat = now

    async def _read(self, *names: str) -> dict[str, Value | None]:
        await self._connected()
        points = await self.points()
        values = await points.read([n for n in names if points.has(n)])
        await self._beat(points)
        return values

    async def _write(self, values: Mapping[str, Value | None]) -> None:
        await self._connected()
        points = await self.points()
        await points.write({k: v for k, v in values.items() if points.has(k)})
        await self._beat(points)

    # -- *-1.1 ---------------------------------------------------------------------------------
    async def communication_check(self) -> CommunicationReport:
        if not self.sunspec:
            return await self._register_check()
        problems: list[str] = []
        try:
            await self._connected()
            models = await self.device.discover()
            points = await self.points()
        except ModbusError as exc:
            return CommunicationReport(False, (), (), (), (f"SunSpec discovery failed: {exc}",))
        found = {m.id for m in models}
        needed = {
            source.model: name
            for name, source in points.sources.items()
            if isinstance(source, SunSpecRef)
        }
        for model_id, name in sorted(needed.items()):
            if model_id not in found:
                problems.append(f"no SunSpec model {model_id} (for {name}) in the device's chain")
        for discovered in models:
            if discovered.definition is None:
                continue
            try:
                await self.device.read_model(discovered.id)
            except ModbusError as exc:
                problems.append(f"model {discovered.id} unreadable: {exc}")
        instances = tuple(f"model {m.id}@{m.address}+{m.length}" for m in models)
        return CommunicationReport(bool(models), instances, (), (), tuple(problems))

    async def _register_check(self) -> CommunicationReport:
        """A register-mapped device: every mapped register reads."""
        problems: list[str] = []
        try:
            await self._connected()
            points = await self.points()
        except ModbusError as exc:
            return CommunicationReport(False, (), (), (), (f"no Modbus link: {exc}",))
        mapped = [n for n, s in points.sources.items() if isinstance(s, RegisterPoint)]
        for name in mapped:
            try:
                await points.read([name])
            except ModbusError as exc:
                problems.append(f"{name} ({points.describe(name)}) unreadable: {exc}")
        instances = tuple(f"{n}@{points.describe(n)}" for n in mapped)
        return CommunicationReport(len(problems) < len(mapped), instances, (), (), tuple(problems))

    # -- identity and protocol -----------------------------------------------------------------
    async def identity(self) -> Identity:
        values = await self._read("manufacturer", "model", "serial")

        def text(name: str) -> str | None:
            value = values.get(name)
            return str(value).strip() or None if value is not None else None

        serial = text("serial")
        return Identity(
            identification_number=serial,
            manufacturer_code=text("manufacturer"),
            product_code=text("model"),
            serial_number=serial,
        )

    async def appendix_release(self) -> str | None:
        return None  # an ECHONET Lite notion

    async def node_version(self) -> str | None:
        version = (await self._read("version")).get("version")
        return None if version is None else str(version).strip() or None

    # -- DR ------------------------------------------------------------------------------------
    async def request_power(self, target_w: float, duration_s: float | None) -> DrAck:
        try:
            await self._write(
                {
                    "setpoint_mode": WSET_MODE_WATTS,
                    "setpoint_w": -target_w,  # SunSpec: + injects (discharges); facade: + charges
                    "reversion_s": round(duration_s) if duration_s else 0,
                }
            )
            await self._write({"setpoint_enable": ENABLED})
        except ModbusExceptionResponse as exc:
            return DrAck(False, f"refused: {exc}")
        return DrAck(True, "written")

    async def read_target_w(self) -> float:
        return -_number(await self._read("setpoint_w"), "setpoint_w", "setpoint")

    async def set_own_mode(self, mode: str) -> None:
        if mode != OWN_MODE:
            raise ModbusError(
                f"own mode {mode!r}: over Modbus the device's own mode is only {OWN_MODE!r} "
                "(no DR setpoint enabled)"
            )
        await self._write({"setpoint_enable": DISABLED})

    async def release_dr(self, own_mode: str) -> None:
        """WSetEna = DISABLED ends the DR at once; the device runs itself again."""
        await self.set_own_mode(own_mode)

    async def read_mode(self) -> str:
        values = await self._read("setpoint_enable", "setpoint_w")
        if values.get("setpoint_enable") != ENABLED:
            return OWN_MODE
        return "discharging" if _number(values, "setpoint_w", "setpoint") > 0 else "charging"

    async def read_ratings(self) -> tuple[float, float]:
        values = await self._read("max_charge_w", "max_discharge_w")
        return (
            _number(values, "max_charge_w", "ratings"),
            _number(values, "max_discharge_w", "ratings"),
        )

    async def _power_and_meter(
        self, along: Sequence[str] = ()
    ) -> tuple[float, float, float | None, float | None, dict[str, Value | None]]:
        """The device's power (facade sign) and the meter's as one timed pair
        (:meth:`Meter.read_pair`); without a meter, the power and when it was asked. The points
        ``along`` that come in the same read as the power (one SunSpec model) are read with it,
        so that a status costs one read of that model, not two."""
        await self._connected()
        points = await self.points()
        with_power = points.read_along("power_w", along)
        read: dict[str, Value | None] = {}

        async def read_power() -> float:
            # No heartbeat in between: a write there would part the two readings.
            read.update(await points.read(["power_w", *with_power]))
            return -_number(read, "power_w", "status")

        if self.meter is None:
            power_at = asyncio.get_running_loop().time()
            return await read_power(), power_at, None, None, read
        return (*await self.meter.read_pair(read_power), read)

    async def status(self) -> Status:
        quantities = ("soc_pct", "reserve_pct", "capacity_wh", "charged_wh", "discharged_wh")
        power_w, power_at, meter_w, meter_at, read = await self._power_and_meter(quantities)
        battery = {name: read[name] for name in quantities if name in read}
        battery |= await self._read(*(name for name in quantities if name not in read))
        mode = await self.read_mode()
        soc = _number(battery, "soc_pct", "status")
        reserve = float(battery.get("reserve_pct") or 0.0)  # no reserve point: none kept
        capacity = _number(battery, "capacity_wh", "status")
        counters = [battery.get(k) for k in ("charged_wh", "discharged_wh")]
        charged, discharged = (float(v) if isinstance(v, int | float) else None for v in counters)
        return Status(
            power_w=power_w,
            mode=mode,
            actual_mode=mode,
            soc_pct=soc,
            chargeable_wh=max(0.0, (100.0 - soc) / 100.0 * capacity),
            dischargeable_wh=max(0.0, (soc - reserve) / 100.0 * capacity),
            charged_wh=charged,
            discharged_wh=discharged,
            reserve_pct=reserve,
            meter_power_w=meter_w,
            power_read_at=power_at,
            meter_read_at=meter_at,
        )

    async def set_backup_reserve_pct(self, pct: float) -> None:
        if not (await self.points()).has("reserve_pct"):
            raise NotApplicable(
                "the device has no backup reserve register (map reserve_pct in [modbus.points])"
            )
        await self._write({"reserve_pct": pct})

    # -- comms loss ----------------------------------------------------------------------------
    def cut_comms(self) -> None:
        self.silent = True

    def restore_comms(self) -> None:
        self.silent = False

    def close(self) -> None:
        for client in (self.device, self.meter.client if self.meter else None):
            if client is not None:
                client.close()
