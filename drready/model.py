"""The words every layer shares: device classes, topologies and bindings, and the length of a day.

They are string enums, so a profile's ``"battery"`` and :attr:`DeviceClass.BATTERY` compare
equal and serialise the same; code compares against the members, never against literals.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["DAY_S", "Binding", "DeviceClass", "Topology"]

#: Seconds in a day: times of day are seconds after the device's local midnight.
DAY_S: Final = 24 * 3600


class DeviceClass(enum.StrEnum):
    """A DRready device class. The value is the token used in device profiles and on the CLI."""

    BATTERY = "battery"
    HEATPUMP = "heatpump"
    HYBRID = "hybrid"

    @property
    def prefix(self) -> str:
        """The requirement-ID prefix, e.g. ``"BAT"`` for ``BAT-2.2``."""
        return _CLASS_DETAILS[self].prefix

    @property
    def echonet_class_id(self) -> int:
        """The ECHONET Lite class group and class code, e.g. ``0x027D`` for storage batteries."""
        return _CLASS_DETAILS[self].echonet_class_id

    @property
    def name_ja(self) -> str:
        return _CLASS_DETAILS[self].name_ja

    @property
    def name_en(self) -> str:
        return _CLASS_DETAILS[self].name_en

    @property
    def source(self) -> str:
        """The industry body whose draft requirements the paper quotes for this class."""
        return _CLASS_DETAILS[self].source

    @property
    def is_water_heater(self) -> bool:
        return self is not DeviceClass.BATTERY


class Topology(enum.StrEnum):
    """How the DR servicer reaches the device."""

    # GW経由型: DR servicer server -> home gateway (HEMS) -> device over the LAN (ECHONET Lite).
    GATEWAY = "gateway"
    # サーバー経由: DR servicer server -> (maker's server) -> device, with JSON on the server side.
    SERVER = "server"


class Binding(enum.StrEnum):
    """How the harness reaches the device: one protocol binding per run."""

    ECHONET = "echonet"  # the harness is the home gateway, ECHONET Lite over UDP
    MODBUS = "modbus"  # SunSpec (or a register map) over Modbus TCP, on the gateway side
    OPENADR3 = "openadr3"  # the harness is the DR servicer, OpenADR 3 shape
    WEBAPI = "webapi"  # the harness calls the maker's cloud, ECHONET Lite Web API shape

    @property
    def topology(self) -> Topology:
        if self in (Binding.OPENADR3, Binding.WEBAPI):
            return Topology.SERVER
        return Topology.GATEWAY

    @property
    def protocol(self) -> str:
        """The protocol's name as reports print it."""
        return _PROTOCOL_NAMES[self]


_PROTOCOL_NAMES: Final[Mapping[Binding, str]] = MappingProxyType(
    {
        Binding.ECHONET: "ECHONET Lite",
        Binding.MODBUS: "SunSpec Modbus",
        Binding.OPENADR3: "OpenADR 3",
        Binding.WEBAPI: "ECHONET Lite Web API",
    }
)


@dataclass(frozen=True)
class _ClassDetails:
    prefix: str
    echonet_class_id: int
    name_ja: str
    name_en: str
    source: str


_CLASS_DETAILS: Final[Mapping[DeviceClass, _ClassDetails]] = MappingProxyType(
    {
        DeviceClass.BATTERY: _ClassDetails(
            prefix="BAT",
            echonet_class_id=0x027D,
            name_ja="家庭用蓄電池",
            name_en="home storage battery",
            source="JEMA",
        ),
        DeviceClass.HEATPUMP: _ClassDetails(
            prefix="HP",
            echonet_class_id=0x026B,
            name_ja="ヒートポンプ給湯機",
            name_en="heat-pump water heater",
            source="JRAIA",
        ),
        DeviceClass.HYBRID: _ClassDetails(
            prefix="HY",
            echonet_class_id=0x02A6,
            name_ja="ハイブリッド給湯機",
            name_en="hybrid water heater",
            source="JGKA",
        ),
    }
)
