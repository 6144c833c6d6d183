"""A stand-in's own way to its device: Get and SetC of the DRready EPCs through the ECHONET Lite
package's :class:`~drready.echonet.gateway.Gateway`, the items where
:mod:`drready.echonet.mapping` (and the device's declared mapping) puts them, the standard
properties decoded by their MRA definitions (:mod:`drready.echonet.properties`).

The reference VEN drives its device through this, never through the harness's bindings, so a
bug in a harness binding cannot sit on both sides of a test and cancel out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drready.echonet.codec import NODE_PROFILE, Property
from drready.echonet.errors import RemoteError
from drready.echonet.gateway import Gateway
from drready.echonet.mapping import EpcMapping
from drready.echonet.remote import MappedObject
from drready.echonet.transport import Address

__all__ = ["Answer", "EchonetPeer"]

#: Identity EPCs (superclass, ECHONET Lite Appendix): identification number, maker, product,
#: serial, under the names the OpenADR 3 vocabulary reports them by.
_IDENTITY_EPCS = (
    ("identification_number", 0x83),
    ("manufacturer_code", 0x8A),
    ("product_code", 0x8C),
    ("serial_number", 0x8D),
)


@dataclass(frozen=True)
class Answer:
    """What the device said to an instruction: taken, or refused and why."""

    accepted: bool
    detail: str


class EchonetPeer(MappedObject):
    """One device object (class, instance) at ``address``, with its DRready item mapping, as a
    stand-in instructs it."""

    def __init__(
        self,
        gateway: Gateway,
        address: Address,
        class_code: int,
        instance: int,
        mapping: Mapping[str, EpcMapping],
    ) -> None:
        super().__init__(gateway, address, class_code, instance, mapping)
        self.gateway: Gateway = gateway

    async def instruct(self, props: Sequence[Property]) -> Answer:
        """A SetC the device may refuse: its refusal is an answer, not an error."""
        try:
            await self.set(props)
        except RemoteError as exc:
            return Answer(False, f"refused: {exc}")
        return Answer(True, "Set_Res")

    # -- identity and releases -------------------------------------------------------------
    async def identity(self) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for key, epc in _IDENTITY_EPCS:
            try:
                raw = (await self.gateway.get(self.address, self.eoj, [epc]))[epc]
            except RemoteError:
                values[key] = None
                continue
            if epc in (0x8C, 0x8D):
                values[key] = raw.decode("ascii", "replace").strip(" \x00")
            else:
                values[key] = raw.hex().upper()
        return values

    async def appendix_release(self) -> str | None:
        raw = (await self.gateway.get(self.address, self.eoj, [0x82]))[0x82]
        # Device objects: 0x82 is 0x00 0x00, the release letter in ASCII, 0x00.
        if len(raw) != 4 or not 0x41 <= raw[2] <= 0x5A:
            return None
        return chr(raw[2])

    async def node_version(self) -> str | None:
        raw = (await self.gateway.get(self.address, NODE_PROFILE, [0x82]))[0x82]
        return f"{raw[0]}.{raw[1]}" if len(raw) == 4 else None
