"""One device object on the network, reached through a gateway, read and written in DRready
terms: the DRready items where the EPC mapping puts them, every other property decoded by its
MRA definition.

The harness's ECHONET Lite bindings and the reference stand-ins (the VEN, the maker's cloud)
both reach their device this way; what each then does with it is their own.

Several properties are read in as few Gets as the device allows (:meth:`MappedObject.read_raw`):
one frame of several EPCs, split where the response would be too large, and asked again one EPC
at a time where the device refuses the batch (Get_SNA); a device that refused in a batch an EPC
it serves alone is asked smaller batches from then on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from drready.echonet.codec import EOJ, ESV, Property
from drready.echonet.errors import DecodeError, RemoteError
from drready.echonet.mapping import EpcMapping
from drready.echonet.properties import ClassDef, load_class
from drready.echonet.transport import Address

__all__ = [
    "MAX_EPCS_PER_GET",
    "MAX_RESPONSE_BYTES",
    "MappedObject",
    "ObjectGateway",
    "RawRead",
]

#: Most EPCs one Get asks for at first (OPC allows 255; small devices keep small buffers, and a
#: device that refuses a batch it could serve one by one lowers its own limit).
MAX_EPCS_PER_GET = 16
#: Largest response a batched Get may draw, estimated from the EDT sizes: the UDP payload every
#: IPv4 host accepts unfragmented (576-byte datagrams less the IP and UDP headers).
MAX_RESPONSE_BYTES = 548
#: What a property of variable size (a property map, an identification number) is counted as.
VARIABLE_EDT_BYTES = 32
#: EHD1, EHD2, TID, SEOJ, DEOJ, ESV and OPC.
_FRAME_HEADER_BYTES = 12


@dataclass(frozen=True)
class RawRead:
    """What a read of several EPCs gave: each served EPC's EDT, and each refused EPC with the
    device's refusal of it asked alone."""

    values: dict[int, bytes] = field(default_factory=dict)
    refused: dict[int, RemoteError] = field(default_factory=dict)


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
        #: Most EPCs in one Get; halved each time the device refuses a batch whose EPCs it then
        #: serves one at a time.
        self.max_epcs_per_get = MAX_EPCS_PER_GET

    def decode(self, epc: int, edt: bytes) -> object:
        # A mapped DRready item is decoded as mapped (size, scale, sign), even on a standard
        # EPC: that is what the maker declared the firmware does.
        item = next((m for m in self.mapping.values() if m.epc == epc), None)
        if item is not None:
            return item.decode(edt)
        return self.classdef.properties[epc].decode(edt)

    async def get(self, *epcs: int) -> dict[int, object]:
        """``epcs`` read in as few Gets as the device allows, each value decoded; RemoteError
        if the device refuses any of them."""
        read = await self.read_raw(epcs)
        if read.refused:
            raise next(iter(read.refused.values()))
        return {epc: self.decode(epc, read.values[epc]) for epc in epcs}

    def edt_size(self, epc: int) -> int | None:
        """The EDT size of ``epc`` when it is fixed: as mapped, else by its MRA definition."""
        item = next((m for m in self.mapping.values() if m.epc == epc), None)
        if item is not None:
            return item.size
        definition = self.classdef.properties.get(epc)
        return None if definition is None else definition.data.size

    def batches(self, epcs: Iterable[int]) -> list[tuple[int, ...]]:
        """``epcs`` (each once, in order) cut into the Gets to send: at most
        :attr:`max_epcs_per_get` each, and a response within :data:`MAX_RESPONSE_BYTES`."""
        out: list[tuple[int, ...]] = []
        batch: list[int] = []
        size = _FRAME_HEADER_BYTES
        for epc in dict.fromkeys(epcs):
            cost = 2 + (self.edt_size(epc) or VARIABLE_EDT_BYTES)
            if batch and (len(batch) >= self.max_epcs_per_get or size + cost > MAX_RESPONSE_BYTES):
                out.append(tuple(batch))
                batch, size = [], _FRAME_HEADER_BYTES
            batch.append(epc)
            size += cost
        if batch:
            out.append(tuple(batch))
        return out

    async def read_raw(self, epcs: Iterable[int]) -> RawRead:
        """The EDT of each of ``epcs``, in as few Gets as the device allows. Each EPC of a batch
        the device refuses (Get_SNA) is asked alone; one refused alone too is in ``refused``.
        Timeouts and other errors are raised."""
        read = RawRead()
        for batch in self.batches(epcs):
            try:
                raw = await self.gateway.get(self.address, self.eoj, batch)
            except RemoteError as exc:
                if exc.esv != ESV.GET_SNA:
                    raise
                if len(batch) == 1:
                    read.refused[batch[0]] = exc
                    continue
                await self._split(batch, exc, read)
                continue
            read.values.update(self._served(batch, raw))
        return read

    async def _split(self, batch: tuple[int, ...], refusal: RemoteError, read: RawRead) -> None:
        """A batch drew Get_SNA: each of its EPCs asked alone. The values a Get_SNA carries
        are not taken: not every peer that answers one fills them in (a cloud standing in for
        the device may send placeholders)."""
        refused_in_batch = set(refusal.refused_epcs) or set(batch)
        alone_served = False
        for epc in batch:
            try:
                raw = await self.gateway.get(self.address, self.eoj, [epc])
            except RemoteError as exc:
                if exc.esv != ESV.GET_SNA:
                    raise
                read.refused[epc] = exc
                continue
            read.values.update(self._served((epc,), raw))
            alone_served = alone_served or epc in refused_in_batch
        if alone_served:
            # It refused in a batch what it serves alone: ask it smaller batches from now on.
            self.max_epcs_per_get = max(1, len(batch) // 2)

    def _served(self, asked: tuple[int, ...], raw: Mapping[int, bytes]) -> dict[int, bytes]:
        missing = [epc for epc in asked if epc not in raw]
        if missing:
            listed = ", ".join(f"0x{epc:02X}" for epc in missing)
            raise DecodeError(f"Get_Res from {self.eoj} lacks EPC(s) {listed} it was asked for")
        return {epc: raw[epc] for epc in asked}

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
