"""What every ECHONET Lite device binding does the same way, the harness acting as home gateway.

Discovery and property maps (*-1.1), identity (*-ID), the protocol release (*-3.3) and the
harness falling silent (comms loss). The class bindings add their DR operations on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from drready.bindings.base import ServerPathBinding
from drready.bindings.types import Capabilities, CommunicationReport, Identity
from drready.echonet.codec import EOJ, NODE_PROFILE, Property
from drready.echonet.errors import DecodeError, EchonetError, EchonetTimeout
from drready.echonet.gateway import DiscoveredNode, PropertyMaps
from drready.echonet.mapping import EpcMapping
from drready.echonet.remote import MappedObject
from drready.echonet.transport import Address
from drready.model import Binding, Topology

#: How many times discovery is asked before the device counts as not listing its object:
#: enough that 5 % loss each way leaves about one run in a thousand without it.
DISCOVERY_ATTEMPTS = 3


class EchonetGateway(Protocol):
    """What the ECHONET Lite bindings need of their home gateway: the LAN's
    :class:`~drready.echonet.gateway.Gateway`, or a maker's cloud answering in its place
    (:class:`~drready.bindings.webapi_transport.WebApiTransport`)."""

    #: A comms cut: nothing is sent while it is set.
    silent: bool

    @property
    def local_address(self) -> Address | None: ...

    async def get(self, address: Address, deoj: EOJ, epcs: Sequence[int]) -> dict[int, bytes]: ...
    async def set_c(self, address: Address, deoj: EOJ, values: Sequence[Property]) -> object: ...
    async def discover(
        self, address: Address, window_s: float | None = None
    ) -> list[DiscoveredNode]: ...
    async def read_property_maps(self, address: Address, deoj: EOJ) -> PropertyMaps: ...


class EchonetDeviceBinding(MappedObject):
    protocol = Binding.ECHONET.protocol
    topology = Topology.GATEWAY
    capabilities = Capabilities(echonet_lite_node=True)

    def __init__(
        self,
        gateway: EchonetGateway,
        address: Address,
        class_code: int,
        instance: int,
        mapping: Mapping[str, EpcMapping],
        *,
        discovery_address: Address | None = None,
    ) -> None:
        super().__init__(gateway, address, class_code, instance, mapping)
        self.gateway: EchonetGateway = gateway
        self.discovery_address = discovery_address or address
        #: Lets go of what the session opened for this binding (the gateway's sockets, UDP
        #: 3610 on a bench), called once by :meth:`close`; None: the session keeps it.
        self.release: Callable[[], None] | None = None

    @property
    def local_address(self) -> Address | None:
        return self.gateway.local_address

    @property
    def server_path(self) -> ServerPathBinding | None:
        return None

    def close(self) -> None:
        """Let go of the gateway's sockets when the session handed them over (``release``)."""
        release, self.release = self.release, None
        if release is not None:
            release()

    async def communication_check(self) -> CommunicationReport:
        problems: list[str] = []
        instances: tuple[str, ...] = ()
        nodes: list[DiscoveredNode] = []
        found: list[DiscoveredNode] = []
        # Discovery is one datagram out and whatever comes back in a window: asked again before
        # a lost datagram counts as a silent device.
        for _attempt in range(DISCOVERY_ATTEMPTS):
            try:
                nodes = await self.gateway.discover(self.discovery_address)
            except EchonetError as exc:
                nodes = []
                problems.append(f"discovery failed: {exc}")
                break
            found = [n for n in nodes if self.eoj in n.instances]
            if found:
                break
        if nodes:
            instances = tuple(str(e) for n in nodes for e in n.instances)
        if not found:
            problems.append(
                f"discovery: no node listed {self.eoj} in its instance list (0xD6); "
                f"saw {list(instances) or 'no reply'}"
            )
        try:
            maps = await self.gateway.read_property_maps(self.address, self.eoj)
        except (EchonetError, KeyError) as exc:
            problems.append(f"property maps (0x9D/0x9E/0x9F) unreadable: {exc}")
            return CommunicationReport(bool(found), instances, (), (), tuple(problems))
        required = self.classdef.required_get()
        missing = sorted(required - maps.get)
        if missing:
            problems.append(
                "Get property map lacks mandatory EPCs " + ", ".join(f"0x{e:02X}" for e in missing)
            )
        unserved: list[int] = []
        # Every EPC of the map, in as few Gets as the device allows (one at a time where it
        # refuses a batch), so each refusal is still told apart.
        for batch in self.batches(sorted(maps.get)):
            try:
                read = await self.read_raw(batch)
            except (EchonetTimeout, DecodeError) as exc:
                listed = " ".join(f"0x{epc:02X}" for epc in batch)
                problems.append(f"EPC(s) {listed}: {exc}")
                continue
            unserved.extend(read.refused)
            for epc, raw in read.values.items():
                try:
                    if epc in self.classdef.properties:
                        self.classdef.properties[epc].decode(raw)
                except DecodeError as exc:
                    problems.append(f"EPC 0x{epc:02X} value does not decode: {exc}")
        unserved.sort()
        if unserved:
            problems.append(
                "Get property map lists EPCs the device refuses to serve: "
                + ", ".join(f"0x{e:02X}" for e in unserved)
            )
        return CommunicationReport(
            discovered=bool(found),
            instances=instances,
            get_map=tuple(sorted(maps.get)),
            set_map=tuple(sorted(maps.set)),
            problems=tuple(problems),
        )

    # -- identity and protocol (*-ID, *-3.3) -----------------------------------------------
    async def identity(self) -> Identity:
        values: dict[str, str | None] = {}
        keys = (
            ("identification_number", 0x83),
            ("manufacturer_code", 0x8A),
            ("product_code", 0x8C),
            ("serial_number", 0x8D),
        )
        read = await self.read_raw(epc for _, epc in keys)
        for key, epc in keys:
            raw = read.values.get(epc)
            if raw is None:  # refused: the device does not give it
                values[key] = None
                continue
            if epc in (0x8C, 0x8D):
                values[key] = raw.decode("ascii", "replace").strip(" \x00")
            else:
                values[key] = raw.hex().upper()
        return Identity(**values)

    async def appendix_release(self) -> str | None:
        raw = (await self.gateway.get(self.address, self.eoj, [0x82]))[0x82]
        # Device objects: 0x82 is 0x00 0x00, the release letter in ASCII, 0x00 (Appendix, 0x82).
        if len(raw) != 4 or not 0x41 <= raw[2] <= 0x5A:
            return None
        return chr(raw[2])

    async def node_version(self) -> str | None:
        raw = (await self.gateway.get(self.address, NODE_PROFILE, [0x82]))[0x82]
        return f"{raw[0]}.{raw[1]}" if len(raw) == 4 else None

    # -- comms loss ----------------------------------------------------------------------------
    def cut_comms(self) -> None:
        self.gateway.silent = True

    def restore_comms(self) -> None:
        self.gateway.silent = False
