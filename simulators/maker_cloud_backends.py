"""What stands behind each device id of the reference maker cloud
(:mod:`drready.simulators.maker_cloud`).

A :class:`DeviceBackend` serves Web API values by property name. :class:`EchonetBridgeBackend`
bridges to an ECHONET Lite device object through drready's own
:class:`~drready.echonet.gateway.Gateway` (the properties its Get map lists, plus the
maker-specific ones a profile maps, named as :mod:`drready.webapi.maker` says);
:class:`InMemoryBackend` holds values in memory. Several names read or written together are one
ECHONET Lite Get or SetC, so the device takes a DR request whole, as it would from a gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self

from drready.echonet.codec import EOJ, Property
from drready.echonet.errors import EchonetError, RemoteError
from drready.echonet.gateway import Gateway
from drready.echonet.mapping import EpcMapping
from drready.echonet.properties import ClassDef, PropertyDef, load_class
from drready.echonet.transport import Address
from drready.webapi.maker import MakerProperty, maker_properties
from drready.webapi.values import (
    ValueConversionError,
    edt_to_json,
    json_to_edt,
    property_schema,
)

__all__ = [
    "DeviceBackend",
    "DeviceUnavailable",
    "EchonetBridgeBackend",
    "InMemoryBackend",
    "PropertyInfo",
    "PropertyRefused",
]


class PropertyRefused(Exception):
    """The device refuses this value (or this write): answered 400 ``deviceError``."""


class DeviceUnavailable(Exception):
    """The device did not answer: answered 504 ``timeoutError``."""


@dataclass(frozen=True)
class PropertyInfo:
    """What the device description says about one property."""

    name: str
    epc: int
    name_ja: str
    name_en: str
    observable: bool
    schema: Mapping[str, Any]

    @classmethod
    def of(cls, prop: PropertyDef) -> PropertyInfo:
        return cls(
            prop.short_name,
            prop.epc,
            prop.name_ja,
            prop.name_en,
            prop.inf.is_supported,
            property_schema(prop),
        )


class DeviceBackend(Protocol):
    """What stands behind one device id of the cloud. Values are Web API JSON values."""

    @property
    def device_type(self) -> str:
        """Web API ``deviceType``: the MRA class ``shortName`` (``storageBattery``)."""
        ...

    @property
    def class_id(self) -> int:
        """ECHONET Lite class code (0x027D battery, 0x026B / 0x02A6 water heaters)."""
        ...

    async def get(self, short_name: str) -> Any: ...

    async def get_many(self, names: Collection[str]) -> dict[str, Any]:
        """Several values at once; a name the device will not give now is left out."""
        ...

    async def set(self, short_name: str, value: Any) -> None:
        """Write ``value``; raise :class:`PropertyRefused` if the device refuses it."""
        ...

    async def set_many(self, values: Mapping[str, Any]) -> None:
        """Write every value together, or none (:class:`PropertyRefused`)."""
        ...

    def property_names(self) -> Collection[str]:
        """Every property this device serves (MRA shortNames, and maker names)."""
        ...

    def writable_names(self) -> Collection[str]:
        """The properties that accept a write."""
        ...

    def info(self, short_name: str) -> PropertyInfo:
        """The description of one served property."""
        ...


class _MraBackend:
    """What a backend's MRA class says of it: its Web API device type and ECHONET class."""

    classdef: ClassDef

    @property
    def device_type(self) -> str:
        return self.classdef.short_name

    @property
    def class_id(self) -> int:
        return self.classdef.class_id


class InMemoryBackend(_MraBackend):
    """A device that is a dict of Web API values, checked against the MRA on every write."""

    def __init__(
        self,
        class_id: int,
        values: Mapping[str, Any],
        *,
        writable: Collection[str] | None = None,
        refuse: Callable[[str, Any], bool] | None = None,
    ) -> None:
        self.classdef: ClassDef = load_class(class_id)
        self._values = dict(values)
        for name, value in self._values.items():
            json_to_edt(self.classdef.by_name(name), value)  # a bad start value is a bug
        self._writable = frozenset(
            writable
            if writable is not None
            else (n for n in self._values if self.classdef.by_name(n).set.is_supported)
        )
        self._refuse = refuse
        self.writes: list[tuple[str, Any]] = []

    async def get(self, short_name: str) -> Any:
        return self._values[short_name]

    async def get_many(self, names: Collection[str]) -> dict[str, Any]:
        return {n: self._values[n] for n in names if n in self._values}

    def _check(self, short_name: str, value: Any) -> None:
        if short_name not in self._writable:
            raise PropertyRefused(f"{short_name} is read-only")
        try:
            json_to_edt(self.classdef.by_name(short_name), value)
        except ValueConversionError as exc:
            raise PropertyRefused(str(exc)) from exc
        if self._refuse is not None and self._refuse(short_name, value):
            raise PropertyRefused(f"the device refuses {short_name} = {value!r}")

    async def set(self, short_name: str, value: Any) -> None:
        await self.set_many({short_name: value})

    async def set_many(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            self._check(name, value)
        for name, value in values.items():
            self._values[name] = value
            self.writes.append((name, value))

    def property_names(self) -> Collection[str]:
        return tuple(self._values)

    def writable_names(self) -> Collection[str]:
        return self._writable

    def info(self, short_name: str) -> PropertyInfo:
        return PropertyInfo.of(self.classdef.by_name(short_name))


class EchonetBridgeBackend(_MraBackend):
    """A real ECHONET Lite device object behind the cloud: Get / SetC through a Gateway.

    Build it with :meth:`open`, which reads the object's property maps: the cloud serves the
    properties the device's Get map lists and writes those its Set map lists. ``mapping`` (a
    profile's ``[echonet.mapping]``) names the maker-specific EPCs it also serves.
    """

    def __init__(
        self,
        gateway: Gateway,
        address: Address,
        eoj: EOJ,
        *,
        get_epcs: Collection[int] | None = None,
        set_epcs: Collection[int] | None = None,
        announce_epcs: Collection[int] | None = None,
        mapping: Mapping[str, EpcMapping] | None = None,
    ) -> None:
        self.gateway = gateway
        self.address = address
        self.eoj = eoj
        self.classdef: ClassDef = load_class((eoj.class_group << 8) | eoj.class_code)
        known = self.classdef.properties
        served = sorted(get_epcs if get_epcs is not None else known)
        maker = maker_properties(mapping or {}, known)
        self._maker = {epc: maker[epc] for epc in served if epc in maker}
        self._announce = frozenset(announce_epcs or ())
        self._by_name: dict[str, PropertyDef | MakerProperty] = {}
        for epc in served:
            if epc in known:
                self._by_name[known[epc].short_name] = known[epc]
            elif epc in self._maker:
                self._by_name[self._maker[epc].name] = self._maker[epc]
        self._set = frozenset(
            name for name, prop in self._by_name.items() if prop.epc in set(set_epcs or ())
        )

    @classmethod
    async def open(
        cls,
        gateway: Gateway,
        address: Address,
        eoj: EOJ,
        *,
        mapping: Mapping[str, EpcMapping] | None = None,
    ) -> Self:
        maps = await gateway.read_property_maps(address, eoj)
        return cls(
            gateway,
            address,
            eoj,
            get_epcs=maps.get,
            set_epcs=maps.set,
            announce_epcs=maps.announce,
            mapping=mapping,
        )

    def _prop(self, short_name: str) -> PropertyDef | MakerProperty:
        try:
            return self._by_name[short_name]
        except KeyError:
            raise PropertyRefused(f"{short_name} is not a property of this device") from None

    @staticmethod
    def _to_json(prop: PropertyDef | MakerProperty, edt: bytes) -> Any:
        if isinstance(prop, MakerProperty):
            return prop.to_json(edt)
        return edt_to_json(prop, edt)

    @staticmethod
    def _to_edt(prop: PropertyDef | MakerProperty, value: Any) -> bytes:
        if isinstance(prop, MakerProperty):
            return prop.to_edt(value)
        return json_to_edt(prop, value)

    async def get(self, short_name: str) -> Any:
        values = await self._get([self._prop(short_name)])
        return values[short_name]

    async def _get(self, props: list[PropertyDef | MakerProperty]) -> dict[str, Any]:
        epcs = [p.epc for p in props]
        try:
            raw = await self.gateway.get(self.address, self.eoj, epcs)
            return {self._name(p): self._to_json(p, raw[p.epc]) for p in props}
        except RemoteError as exc:
            raise PropertyRefused(str(exc)) from exc
        except ValueConversionError as exc:
            raise PropertyRefused(f"the device's value does not convert: {exc}") from exc
        except EchonetError as exc:
            raise DeviceUnavailable(str(exc)) from exc

    @staticmethod
    def _name(prop: PropertyDef | MakerProperty) -> str:
        return prop.name if isinstance(prop, MakerProperty) else prop.short_name

    async def get_many(self, names: Collection[str]) -> dict[str, Any]:
        props = [self._by_name[n] for n in names if n in self._by_name]
        if not props:
            return {}
        try:
            return await self._get(props)  # one Get frame for all of them
        except PropertyRefused:
            pass
        found: dict[str, Any] = {}
        for prop in props:  # one was refused: the others one by one
            try:
                found.update(await self._get([prop]))
            except PropertyRefused:
                continue
        return found

    async def set(self, short_name: str, value: Any) -> None:
        await self.set_many({short_name: value})

    async def set_many(self, values: Mapping[str, Any]) -> None:
        try:
            props = [
                Property(self._prop(n).epc, self._to_edt(self._prop(n), v))
                for n, v in values.items()
            ]
            await self.gateway.set_c(self.address, self.eoj, props)  # one SetC: all or nothing
        except (ValueConversionError, RemoteError) as exc:
            raise PropertyRefused(str(exc)) from exc
        except EchonetError as exc:
            raise DeviceUnavailable(str(exc)) from exc

    def property_names(self) -> Collection[str]:
        return tuple(self._by_name)

    def writable_names(self) -> Collection[str]:
        return self._set

    def info(self, short_name: str) -> PropertyInfo:
        prop = self._prop(short_name)
        if isinstance(prop, MakerProperty):
            return PropertyInfo(
                prop.name,
                prop.epc,
                f"メーカー独自プロパティ 0x{prop.epc:02X} (DRready)",
                f"maker-specific property 0x{prop.epc:02X} (DRready item)",
                prop.epc in self._announce,
                prop.schema(),
            )
        return PropertyInfo.of(prop)
