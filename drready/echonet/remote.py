"""One device object on the network, reached through a gateway, read and written in DRready
terms: the DRready items where the EPC mapping puts them, every other property decoded by its
MRA definition.

The harness's ECHONET Lite bindings and the reference stand-ins (the VEN, the maker's cloud)
both reach their device this way; what each then does with it is their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from drready.echonet.codec import EOJ, Property
from drready.echonet.mapping import EpcMapping
from drready.echonet.properties import ClassDef, load_class
from drready.echonet.transport import Address

__all__ = ["MappedObject", "ObjectGateway"]


class ObjectGateway(Protocol):
    """What a mapped object needs of its gateway: Get and SetC to one object."""

    async def get(self, address: Address, deoj: EOJ, epcs: Sequence[int]) -> dict[int, bytes]: ...
    async def set_c(self, address: Address, deoj: EOJ, values: Sequence[Property]) -> object: ...


class MappedObject:
    """One device object (class, instance) at ``address``, with its DRready item mapping."""

    def __init__(
        self,
        gateway: ObjectGateway,
        address: Address,
        class_code: int,
        instance: int,
        mapping: Mapping[str, EpcMapping],
    ) -> None:
        self.gateway = gateway
        self.address = address
        self.eoj = EOJ(class_code >> 8, class_code & 0xFF, instance)
        self.mapping = dict(mapping)
        self.classdef: ClassDef = load_class(class_code)

    def decode(self, epc: int, edt: bytes) -> object:
        # A mapped DRready item is decoded as mapped (size, scale, sign), even on a standard
        # EPC: that is what the maker declared the firmware does.
        item = next((m for m in self.mapping.values() if m.epc == epc), None)
        if item is not None:
            return item.decode(edt)
        return self.classdef.properties[epc].decode(edt)

    async def get(self, *epcs: int) -> dict[int, object]:
        """One Get of ``epcs``, each value decoded."""
        raw = await self.gateway.get(self.address, self.eoj, epcs)
        return {epc: self.decode(epc, raw[epc]) for epc in epcs}

    async def get_one(self, epc: int) -> object:
        return (await self.get(epc))[epc]

    def mapped(self, name: str) -> EpcMapping:
        """Where the DRready item ``name`` sits (KeyError: not mapped)."""
        return self.mapping[name]

    async def get_item(self, name: str) -> float:
        item = self.mapping[name]
        raw = (await self.gateway.get(self.address, self.eoj, [item.epc]))[item.epc]
        return item.decode(raw)

    def item(self, name: str, value: float) -> Property:
        """The property that writes ``value`` to the DRready item ``name``."""
        mapped = self.mapping[name]
        return Property(mapped.epc, mapped.encode(value))

    def standard(self, epc: int, value: object) -> Property:
        """The property that writes ``value`` to a standard EPC, encoded by its MRA definition."""
        return Property(epc, self.classdef.properties[epc].encode(value))

    async def set(self, props: Sequence[Property]) -> None:
        """SetC; RemoteError if the device refuses any of ``props``."""
        await self.gateway.set_c(self.address, self.eoj, props)
