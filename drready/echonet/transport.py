"""Datagram transports for ECHONET Lite: real UDP (unicast and multicast) and an in-memory network.

Both offer the same small interface, :class:`DatagramEndpoint`, so the gateway and the simulators do
not know which one carries their frames. Simulated runs use the in-memory network: a datagram is a
``call_soon`` callback, which is what keeps virtual time from jumping over a reply in flight.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import Protocol

from drready.echonet.codec import ECHONET_LITE_PORT, MULTICAST_GROUP

Address = tuple[str, int]
DatagramHandler = Callable[[bytes, Address], None]


class DatagramEndpoint(Protocol):
    @property
    def local_address(self) -> Address: ...

    def send(self, data: bytes, address: Address) -> None: ...

    def close(self) -> None: ...


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, handler: DatagramHandler) -> None:
        self._handler = handler
        self.error: Exception | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._handler(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the peer is gone, which the gateway sees as a
        # timeout. Keep the last one for diagnostics instead of raising inside the loop.
        self.error = exc


class UdpEndpoint:
    """An asyncio UDP socket. Multicast membership of 224.0.23.0 is joined when asked."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _UdpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    @property
    def local_address(self) -> Address:
        host, port = self._transport.get_extra_info("sockname")[:2]
        return (str(host), int(port))

    @property
    def last_error(self) -> Exception | None:
        return self._protocol.error

    def send(self, data: bytes, address: Address) -> None:
        if not self._transport.is_closing():
            self._transport.sendto(data, address)

    def close(self) -> None:
        self._transport.close()


async def open_udp_endpoint(
    handler: DatagramHandler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    join_multicast: bool = False,
    multicast_interface: str | None = None,
) -> UdpEndpoint:
    """Bind a UDP endpoint. Port 0 (the default) lets the OS choose; read ``local_address``.

    ECHONET Lite nodes listen on 3610 (ECHONET Lite Spec. Part 2, 3.3); tests and parallel runs
    bind elsewhere, and replies go to the requester's source address, so any port works.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if join_multicast:
            # Several nodes on one host share the group port; a unicast bind must stay exclusive,
            # or a second endpoint would silently take the first one's datagrams.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Bind the wildcard address: a socket bound to a unicast address does not receive
            # datagrams sent to the group on Linux.
            sock.bind(("", port))
            interface = socket.inet_aton(multicast_interface or host)
            membership = socket.inet_aton(MULTICAST_GROUP) + interface
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, interface)
        else:
            sock.bind((host, port))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("b", 1))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _UdpProtocol(handler), sock=sock
    )
    return UdpEndpoint(transport, protocol)


class MemoryNetwork:
    """A loss-free datagram network inside one event loop, multicast included.

    Addresses are ``(host, port)`` pairs chosen by the caller; port 0 picks a free port.
    """

    def __init__(self) -> None:
        self._endpoints: dict[Address, MemoryEndpoint] = {}
        self._next_port = 40000

    def endpoint(self, handler: DatagramHandler, host: str, port: int = 0) -> MemoryEndpoint:
        if port == 0:
            while (host, self._next_port) in self._endpoints:
                self._next_port += 1
            port = self._next_port
            self._next_port += 1
        address = (host, port)
        if address in self._endpoints:
            raise OSError(f"address {host}:{port} is already in use on this memory network")
        endpoint = MemoryEndpoint(self, address, handler)
        self._endpoints[address] = endpoint
        return endpoint

    def _deliver(self, data: bytes, source: Address, destination: Address) -> None:
        loop = asyncio.get_running_loop()
        if destination[0] == MULTICAST_GROUP:
            targets = [
                ep
                for addr, ep in self._endpoints.items()
                if addr[1] == destination[1] and addr != source
            ]
        else:
            target = self._endpoints.get(destination)
            targets = [target] if target is not None else []
        for endpoint in targets:
            loop.call_soon(endpoint._receive, data, source)

    def _remove(self, address: Address) -> None:
        self._endpoints.pop(address, None)


class MemoryEndpoint:
    def __init__(self, network: MemoryNetwork, address: Address, handler: DatagramHandler) -> None:
        self._network = network
        self._address = address
        self._handler = handler
        self._closed = False

    @property
    def local_address(self) -> Address:
        return self._address

    def send(self, data: bytes, address: Address) -> None:
        if not self._closed:
            self._network._deliver(bytes(data), self._address, address)

    def _receive(self, data: bytes, source: Address) -> None:
        if not self._closed:
            self._handler(data, source)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._network._remove(self._address)


__all__ = [
    "ECHONET_LITE_PORT",
    "Address",
    "DatagramEndpoint",
    "DatagramHandler",
    "MemoryEndpoint",
    "MemoryNetwork",
    "UdpEndpoint",
    "open_udp_endpoint",
]
