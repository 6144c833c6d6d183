"""Datagram transports for ECHONET Lite: real UDP (unicast and multicast) and an in-memory network.

Both offer the same small interface, :class:`DatagramEndpoint`, so the gateway and the simulators do
not know which one carries their frames. Simulated runs use the in-memory network: a datagram is a
``call_soon`` callback, which is what keeps virtual time from jumping over a reply in flight.

On a bench the controller's sockets (:func:`open_controller_endpoints`) sit on UDP 3610 of one
local address, plus the multicast group 224.0.23.0 joined on that address's interface: many nodes
answer to port 3610 whatever port a request came from, and announce to the group.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
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
    bind elsewhere. A controller facing nodes that answer to 3610 whatever the request's source
    port opens :func:`open_controller_endpoints` instead.
    """
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
            interface_host = multicast_interface or host
            if _is_specific_ipv4(interface_host):
                # Multicast from this socket leaves by the interface of the address it is bound
                # to, not by the default route: a node on 127.0.0.x announces on loopback only.
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface_host)
                )
        if sock.family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("b", 1))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return await _endpoint(sock, handler)


async def _endpoint(sock: socket.socket, handler: DatagramHandler) -> UdpEndpoint:
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(handler), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    return UdpEndpoint(transport, protocol)


def _is_specific_ipv4(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.version == 4 and not address.is_unspecified


async def open_group_endpoint(
    handler: DatagramHandler, interface: str, port: int = ECHONET_LITE_PORT
) -> UdpEndpoint:
    """A socket that receives what is sent to the group 224.0.23.0 on ``port``, joined on the
    interface of the local address ``interface`` (the wildcard: the system's choice).

    It is bound to the group address itself, with SO_REUSEADDR, so it shares the group port with
    the nodes and controllers on this host without taking their unicast datagrams, and does not
    clash with a socket bound to ``interface``:``port``.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((MULTICAST_GROUP, port))
        membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton(interface or "0.0.0.0")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return await _endpoint(sock, handler)


class PortInUseError(OSError):
    """The controller's UDP port is held by another socket: said in one line, with the holder
    when this system tells who it is."""


async def open_controller_endpoints(
    handler: DatagramHandler,
    host: str,
    port: int = ECHONET_LITE_PORT,
    *,
    multicast: bool = True,
) -> tuple[UdpEndpoint, UdpEndpoint | None]:
    """The home gateway's sockets on a bench: UDP ``host``:``port``, from which it sends and at
    which replies arrive whether the node answers to the request's source port or to 3610 (the
    same port), and, for IPv4 when ``multicast`` is set, the group socket
    (:func:`open_group_endpoint`) for announcements and multicast discovery replies.

    Raises :class:`PortInUseError` when ``host``:``port`` is taken, other OSErrors as they come.
    """
    try:
        unicast = await open_udp_endpoint(handler, host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(exc.errno, port_in_use_message(host, port)) from None
        raise
    group: UdpEndpoint | None = None
    if multicast and ":" not in host:
        try:
            group = await open_group_endpoint(handler, host, port)
        except BaseException:
            unicast.close()
            raise
    return unicast, group


def route_source_address(host: str, port: int = ECHONET_LITE_PORT) -> str:
    """The local address this system would send from to reach ``host``, found without sending
    anything (connect() on a UDP socket only picks a route); the wildcard address when there is
    no route or ``host`` does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError:
        return "0.0.0.0"
    family, _, _, _, target = infos[0]
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(target)
        except OSError:
            return "::" if family == socket.AF_INET6 else "0.0.0.0"
        return str(probe.getsockname()[0])


def udp_port_problem(host: str, port: int) -> str | None:
    """Why UDP ``host``:``port`` cannot be bound now, in one line (None: it can). The socket is
    let go at once; a run that opens it later may still lose a race, and says so then."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return port_in_use_message(host, port)
            return f"cannot bind UDP {_format(host, port)}: {exc.strerror or exc}"
    return None


def port_in_use_message(host: str, port: int) -> str:
    holder = port_holder(host, port)
    who = f"held by {holder}" if holder else "held by another socket (its owner is not visible)"
    return f"UDP {_format(host, port)} is already in use, {who}"


def _format(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def port_holder(host: str, port: int, proc: Path = Path("/proc")) -> str | None:
    """Who holds UDP ``port`` on ``host`` or on the wildcard address: "pid 1234 (node
    device.js)" from Linux's socket tables (/proc/net/udp, udp6) and each process's open files,
    the socket's address alone when its process is not visible, None when nothing is found."""
    inodes: dict[str, str] = {}
    for table in ("udp", "udp6"):
        try:
            lines = (proc / "net" / table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local_hex, _, port_hex = fields[1].partition(":")
            bound = _proc_address(local_hex)
            if int(port_hex, 16) != port or bound is None:
                continue
            if bound.is_unspecified or host in ("", "0.0.0.0", "::") or str(bound) == host:
                inodes[fields[9]] = _format(str(bound), port)
    if not inodes:
        return None
    for entry in _pids(proc):
        try:
            names = os.listdir(entry / "fd")
        except OSError:
            continue
        for name in names:
            try:
                target = os.readlink(entry / "fd" / name)
            except OSError:
                continue
            inode = target.removeprefix("socket:[").removesuffix("]")
            if inode in inodes:
                return f"pid {entry.name} ({_command(entry)}) on {inodes[inode]}"
    return f"a socket on {next(iter(inodes.values()))}"


def _proc_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as /proc/net/udp{,6} writes it: 32-bit words in host byte order."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    words = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    swapped = b"".join(w[::-1] for w in words) if _LITTLE_ENDIAN else raw
    if len(swapped) == 4:
        return ipaddress.IPv4Address(swapped)
    if len(swapped) == 16:
        address = ipaddress.IPv6Address(swapped)
        return address.ipv4_mapped or address
    return None


_LITTLE_ENDIAN = struct.pack("=H", 1) == b"\x01\x00"


def _pids(proc: Path) -> list[Path]:
    try:
        return [entry for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _command(entry: Path) -> str:
    try:
        argv = (entry / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    # One line whatever the arguments hold (a script given with -c has newlines).
    text = " ".join(b" ".join(argv).decode("utf-8", "replace").split()) or "?"
    return text if len(text) <= 80 else text[:77] + "..."


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
    "PortInUseError",
    "UdpEndpoint",
    "open_controller_endpoints",
    "open_group_endpoint",
    "open_udp_endpoint",
    "port_holder",
    "route_source_address",
    "udp_port_problem",
]
