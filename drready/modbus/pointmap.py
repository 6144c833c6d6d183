"""What the battery binding reads and writes over Modbus, by meaning, whatever the register layout.

The binding asks for *logical points* (:data:`LOGICAL_POINTS`: the state of charge, the measured
power, the DR setpoint...). Each one comes from a source:

- a SunSpec point (model, point name), found through the device's model chain and scaled with its
  scale factor: model 802 (battery) or model 124 (storage) with 101 (inverter) for the power, and
  model 704 for the setpoint (:func:`sunspec_sources`);
- a holding register the profile gives (``[modbus.points.<name>]``: address, type, scale), for a
  device that is not SunSpec, or to override one SunSpec point (:class:`RegisterPoint`);
- a figure the profile declares (the ratings), for what the device's registers do not hold.

Signs follow SunSpec's DER convention: ``power_w`` and ``setpoint_w`` are positive when the
battery discharges (injects). A register map for a device that counts the other way gives a
negative ``scale``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drready.modbus.errors import ModbusError

if TYPE_CHECKING:
    from drready.modbus.client import SunSpecClient
    from drready.modbus.registers import Value

#: Logical points: name -> (what it is, whether the binding writes it).
LOGICAL_POINTS: Mapping[str, tuple[str, bool]] = {
    "manufacturer": ("maker name (text)", False),
    "model": ("model name (text)", False),
    "serial": ("serial number (text)", False),
    "version": ("firmware version (text)", False),
    "power_w": ("measured power, W, + discharging", False),
    "soc_pct": ("state of charge, %", False),
    "reserve_pct": ("backup reserve, % of capacity", True),
    "capacity_wh": ("usable capacity, Wh", False),
    "max_charge_w": ("rated charge power, W", False),
    "max_discharge_w": ("rated discharge power, W", False),
    "charged_wh": ("cumulative charged energy, Wh", False),
    "discharged_wh": ("cumulative discharged energy, Wh", False),
    "heartbeat": ("controller heartbeat the harness writes", True),
    "setpoint_w": ("DR power setpoint, W, + discharging", True),
    "setpoint_enable": ("setpoint enabled (1) or not (0)", True),
    "setpoint_mode": ("setpoint mode: watts (1)", True),
    "reversion_s": ("seconds after which the setpoint reverts (0: never)", True),
}
#: What a register-mapped (non-SunSpec) battery must map at least.
REQUIRED_POINTS = ("power_w", "soc_pct", "setpoint_w", "setpoint_enable")
REGISTER_TYPES = ("uint16", "int16", "uint32", "int32", "string")
_FORMATS = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i"}


@dataclass(frozen=True)
class RegisterPoint:
    """A holding register (or two, or a run for text) the profile maps to a logical point.

    ``value = raw × scale``, or ``raw × 10**sf`` with the scale factor read from
    ``sf_address`` (an int16 register, as SunSpec does). 32-bit values are big-endian, high
    word first (SunSpec's order). ``registers`` is the length of a ``string``.
    """

    address: int
    type: str = "int16"
    scale: float = 1.0
    sf_address: int | None = None
    registers: int = 1

    @property
    def count(self) -> int:
        if self.type == "string":
            return self.registers
        return 2 if self.type.endswith("32") else 1

    def decode(self, words: list[int], sf: int | None) -> Value:
        if self.type == "string":
            raw = b"".join(w.to_bytes(2, "big") for w in words)
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
        data = b"".join(w.to_bytes(2, "big") for w in words)
        number: int = struct.unpack(_FORMATS[self.type], data)[0]
        factor = self.scale if sf is None else 10.0**sf
        return number * factor

    def encode(self, value: float, sf: int | None) -> list[int]:
        if self.type == "string":
            raise ModbusError(f"register {self.address}: text registers are read-only here")
        factor = self.scale if sf is None else 10.0**sf
        raw = round(value / factor)
        try:
            data = struct.pack(_FORMATS[self.type], raw)
        except struct.error:
            raise ModbusError(
                f"register {self.address}: {value:g} is {raw} raw, outside {self.type}"
            ) from None
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@dataclass(frozen=True)
class SunSpecRef:
    model: int
    point: str


@dataclass(frozen=True)
class Declared:
    """A figure from the profile, for what the device's registers do not hold."""

    value: float
    why: str


Source = SunSpecRef | RegisterPoint | Declared


def sunspec_sources(storage_model: int) -> dict[str, Source]:
    """The SunSpec points of each logical point, for a battery with model 802 or 124."""
    sources: dict[str, Source] = {
        "manufacturer": SunSpecRef(1, "Mn"),
        "model": SunSpecRef(1, "Md"),
        "serial": SunSpecRef(1, "SN"),
        "version": SunSpecRef(1, "Vr"),
        "setpoint_w": SunSpecRef(704, "WSet"),
        "setpoint_enable": SunSpecRef(704, "WSetEna"),
        "setpoint_mode": SunSpecRef(704, "WSetMod"),
        "reversion_s": SunSpecRef(704, "WSetRvrtTms"),
    }
    if storage_model == 802:
        sources |= {
            "power_w": SunSpecRef(802, "W"),
            "soc_pct": SunSpecRef(802, "SoC"),
            "reserve_pct": SunSpecRef(802, "SoCRsvMin"),
            "capacity_wh": SunSpecRef(802, "WHRtg"),
            "max_charge_w": SunSpecRef(802, "WChaRteMax"),
            "max_discharge_w": SunSpecRef(802, "WDisChaRteMax"),
            "heartbeat": SunSpecRef(802, "CtrlHb"),
        }
    elif storage_model == 124:
        # Model 124 holds no measured power, no capacity in Wh and no heartbeat: the power is the
        # inverter's (model 101 W, + output), the capacity and discharge rating are declared.
        sources |= {
            "power_w": SunSpecRef(101, "W"),
            "soc_pct": SunSpecRef(124, "ChaState"),
            "reserve_pct": SunSpecRef(124, "MinRsvPct"),
            "max_charge_w": SunSpecRef(124, "WChaMax"),
        }
    else:
        raise ModbusError(f"SunSpec storage model {storage_model}: expected 802 or 124")
    return sources


class PointMap:
    """Reads and writes logical points through their sources, over one Modbus client."""

    def __init__(self, client: SunSpecClient, sources: Mapping[str, Source]) -> None:
        unknown = sorted(set(sources) - set(LOGICAL_POINTS))
        if unknown:
            raise ModbusError(f"unknown logical point(s) {unknown}")
        self.client = client
        self.sources = dict(sources)

    def has(self, name: str) -> bool:
        return name in self.sources

    def source(self, name: str) -> Source:
        try:
            return self.sources[name]
        except KeyError:
            raise ModbusError(
                f"the device has no source for {name} ({LOGICAL_POINTS[name][0]}): "
                f"map it in the profile's [modbus.points.{name}]"
            ) from None

    def read_along(self, name: str, others: Iterable[str]) -> list[str]:
        """Those of ``others`` this map has that come in the same read as ``name``: points of
        the same SunSpec model (one read of the model gives them all)."""
        source = self.sources.get(name)
        if not isinstance(source, SunSpecRef):
            return []
        return [
            other
            for other in others
            if isinstance(along := self.sources.get(other), SunSpecRef)
            and along.model == source.model
        ]

    def describe(self, name: str) -> str:
        source = self.source(name)
        if isinstance(source, SunSpecRef):
            return f"model {source.model} {source.point}"
        if isinstance(source, RegisterPoint):
            return f"register {source.address} ({source.type})"
        return f"declared {source.value:g} ({source.why})"

    async def _sf(self, point: RegisterPoint, known: dict[int, int]) -> int | None:
        """The point's scale factor, read once per request of several points (``known``)."""
        address = point.sf_address
        if address is None:
            return None
        if address not in known:
            (word,) = await self.client.read_registers(address, 1)
            known[address] = word - 0x10000 if word & 0x8000 else word
        return known[address]

    async def read(self, names: Iterable[str]) -> dict[str, Value | None]:
        values: dict[str, Value | None] = {}
        by_model: dict[int, dict[str, str]] = {}
        sfs: dict[int, int] = {}
        for name in names:
            source = self.source(name)
            if isinstance(source, SunSpecRef):
                by_model.setdefault(source.model, {})[source.point] = name
            elif isinstance(source, Declared):
                values[name] = source.value
            else:
                words = await self.client.read_registers(source.address, source.count)
                values[name] = source.decode(words, await self._sf(source, sfs))
        for model_id, points in by_model.items():
            read = await self.client.read_points(model_id, list(points))
            for point, name in points.items():
                values[name] = read.get(point)
        return values

    async def write(self, values: Mapping[str, Value | None]) -> None:
        """Write in the order given; SunSpec points of one model in one go where adjacent."""
        pending: dict[int, dict[str, Value | None]] = {}
        sfs: dict[int, int] = {}
        for name, value in values.items():
            source = self.source(name)
            if isinstance(source, Declared):
                raise ModbusError(f"{name} is declared in the profile, not a register to write")
            if isinstance(source, SunSpecRef):
                pending.setdefault(source.model, {})[source.point] = value
                continue
            for model_id, points in pending.items():
                await self.client.write_points(model_id, points)
            pending.clear()
            if not isinstance(value, int | float):
                raise ModbusError(f"{name}: expected a number, got {value!r}")
            words = source.encode(float(value), await self._sf(source, sfs))
            await self.client.write_registers(source.address, words)
        for model_id, points in pending.items():
            await self.client.write_points(model_id, points)
