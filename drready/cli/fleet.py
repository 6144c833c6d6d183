"""``drready simulate CLASS --count N --bind CIDR``: a fleet of reference devices in one process.

Device k is its own ECHONET Lite node: one UDP socket bound to the k-th address of the block (port
3610 unless the bind says otherwise), so it answers from its own address as a real unit on its own
LAN address would, with its own identity (serial 0x8D ``FLEET0000001``... and the identification
number 0x83 derived from it). A fleet binds loopback addresses only: nothing leaves the machine.

Multicast discovery does not join 224.0.23.0 on every node's socket: Linux caps the group
memberships of a socket (``net.ipv4.igmp_max_memberships``, 20 by default) and a bound unicast
socket does not receive group datagrams anyway. One group socket serves the whole fleet instead:
it decodes each request once and hands it to every node, in slices, and each node answers from
its own socket. Devices cost nothing while nobody talks to them: their physics is evaluated when
read, and their only timers are the events the model announces (no task per device).
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from drready.echonet.codec import ECHONET_LITE_PORT, MULTICAST_GROUP, Frame, decode
from drready.echonet.errors import DecodeError
from drready.echonet.transport import (
    Address,
    DatagramEndpoint,
    DatagramHandler,
    UdpEndpoint,
    open_group_endpoint,
    open_udp_endpoint,
)
from drready.errors import UsageError
from drready.simulation import DeviceSpec, EchonetDeviceSimulator, backend

__all__ = [
    "DEFAULT_FLEET_START",
    "Fleet",
    "FleetBind",
    "fleet_serial",
    "parse_fleet_bind",
    "raise_open_file_limit",
]

#: Where a fleet starts when ``--bind`` is not given (the block is as large as ``--count`` needs).
DEFAULT_FLEET_START = "127.0.1.0"
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
#: Files the process needs besides the fleet's sockets (interpreter, loop, group socket, pipes).
_SPARE_FILES = 64
#: Multicast requests reach this many nodes per loop turn, one turn per millisecond: a burst of
#: 1,000 answers in one go would overflow a requester's default receive buffer (about 200 of
#: them fit), as real nodes' answers spread too.
_SLICE = 50
_SLICE_GAP_S = 0.001


def fleet_serial(index: int) -> str:
    """Device ``index``'s serial number (0x8D, 12 ASCII characters); 0x83 derives from it."""
    return f"FLEET{index + 1:07d}"


@dataclass(frozen=True)
class FleetBind:
    """Where a fleet listens: ``count`` consecutive loopback addresses from ``first``."""

    first: ipaddress.IPv4Address
    count: int
    port: int = ECHONET_LITE_PORT

    def host(self, index: int) -> str:
        return str(self.first + index)

    @property
    def last(self) -> str:
        return self.host(self.count - 1)


def parse_fleet_bind(text: str | None, count: int) -> FleetBind:
    """``ADDRESS/PREFIX[:PORT]``: the block is the 2^(32-PREFIX) addresses from ADDRESS (which
    need not be the block's first, so 127.0.1.0/22 is 127.0.1.0-127.0.4.255), and device k
    listens on ADDRESS + k. On loopback every address of 127.0.0.1-127.255.255.254 is a usable
    host address, so none is skipped. None: from 127.0.1.0, as large as ``count`` needs."""
    if count < 1:
        raise UsageError(f"--count: expected a number of devices >= 1, got {count}")
    if text is None:
        prefix = 32 - max(count - 1, 0).bit_length()
        text = f"{DEFAULT_FLEET_START}/{prefix}"
    block, _, port_text = text.partition(":")
    address_text, slash, prefix_text = block.partition("/")
    try:
        if not slash or not prefix_text.isdigit() or not 0 <= int(prefix_text) <= 32:
            raise ValueError
        first = ipaddress.IPv4Address(address_text)
        if port_text and not (port_text.isdigit() and 0 < int(port_text) <= 65535):
            raise ValueError
    except ValueError:
        raise UsageError(
            f"--bind: with --count, expected a loopback block ADDRESS/PREFIX[:PORT] such as "
            f"127.0.1.0/22, got {text!r}"
        ) from None
    size = 1 << (32 - int(prefix_text))
    if first not in _LOOPBACK:
        raise UsageError(
            f"--bind {text}: a fleet listens on loopback addresses only (127.0.0.0/8), "
            "so nothing leaves this machine"
        )
    if count > size:
        raise UsageError(f"--count {count}: the block {block} holds {size} addresses")
    if first == _LOOPBACK[0] or int(first) + count - 1 >= int(_LOOPBACK[-1]):
        raise UsageError(
            f"--bind {text}: {count} addresses from {first} leave 127.0.0.1-127.255.255.254"
        )
    return FleetBind(first, count, int(port_text) if port_text else ECHONET_LITE_PORT)


def raise_open_file_limit(count: int) -> None:
    """Raise the soft limit of open files to what ``count`` sockets need, up to the hard limit;
    a usage error when the hard limit is lower."""
    needed = count + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise UsageError(
            f"--count {count}: needs {needed} open files, and the hard limit is {hard} "
            f"(raise it, e.g. `ulimit -Hn {needed}` as root, or ask for fewer devices)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


class _FleetEndpoint:
    """A node's socket, whose announcements go to the fleet's group port (the node itself
    announces to 3610)."""

    def __init__(self, udp: UdpEndpoint, group_port: int) -> None:
        self._udp = udp
        self._group_port = group_port

    @property
    def local_address(self) -> Address:
        return self._udp.local_address

    def send(self, data: bytes, address: Address) -> None:
        if address[0] == MULTICAST_GROUP:
            address = (MULTICAST_GROUP, self._group_port)
        self._udp.send(data, address)

    def close(self) -> None:
        self._udp.close()


class Fleet:
    """``bind.count`` reference devices, device k built from ``spec_for(k)`` on its own address,
    and the group socket that hands multicast requests to all of them."""

    def __init__(
        self,
        bind: FleetBind,
        spec_for: Callable[[int], DeviceSpec],
        *,
        multicast_interface: str = "127.0.0.1",
    ) -> None:
        self.bind = bind
        self._spec_for = spec_for
        self._interface = multicast_interface
        self.devices: list[EchonetDeviceSimulator] = []
        self._handlers: list[DatagramHandler] = []
        self._hosts = frozenset(bind.host(k) for k in range(bind.count))
        self._group: UdpEndpoint | None = None
        #: Multicast requests handed to the fleet.
        self.multicast_requests = 0

    async def start(self) -> None:
        """Bind every device, then the group socket; an OSError names the address that failed
        (everything opened so far is closed)."""
        try:
            for index in range(self.bind.count):
                await self._start_device(index)
            self._group = await open_group_endpoint(self._on_group, self._interface, self.bind.port)
        except BaseException:
            self.close()
            raise

    async def _start_device(self, index: int) -> None:
        host, port = self.bind.host(index), self.bind.port

        async def endpoint(handler: DatagramHandler) -> DatagramEndpoint:
            try:
                udp = await open_udp_endpoint(handler, host, port)
            except OSError as exc:
                raise OSError(exc.errno, f"UDP {host}:{port}: {exc.strerror or exc}") from None
            self._handlers.append(handler)
            return _FleetEndpoint(udp, port)

        device = backend().echonet_device(self._spec_for(index), endpoint)
        self.devices.append(device)
        await device.start()

    def _on_group(self, data: bytes, source: Address) -> None:
        if source[0] in self._hosts or not source[0].startswith("127."):
            # The fleet's own announcements; and a request from off this machine (a group
            # socket hears every interface's traffic for the group) is never answered.
            return
        try:
            frame = decode(data)
        except DecodeError:
            return
        if not isinstance(frame, Frame) or not frame.esv.is_request:
            return
        self.multicast_requests += 1
        self._hand_over(data, source, 0)

    def _hand_over(self, data: bytes, source: Address, start: int) -> None:
        for handler in self._handlers[start : start + _SLICE]:
            handler(data, source)
        if start + _SLICE < len(self._handlers):
            loop = asyncio.get_running_loop()
            loop.call_later(_SLICE_GAP_S, self._hand_over, data, source, start + _SLICE)

    def check(self) -> None:
        for device in self.devices:
            device.check()

    def close(self) -> None:
        if self._group is not None:
            self._group.close()
            self._group = None
        for device in self.devices:
            device.close()


def fleet_specs(spec: DeviceSpec) -> Callable[[int], DeviceSpec]:
    """Device k's spec: ``spec`` with its own serial number (and so its own 0x83)."""

    def spec_for(index: int) -> DeviceSpec:
        identity = replace(spec.identity, serial_number=fleet_serial(index))
        return replace(spec, identity=identity)

    return spec_for


def banner(device_class: str, bind: FleetBind, faults: Sequence[str], speed: str) -> str:
    span = bind.host(0) if bind.count == 1 else f"{bind.host(0)}-{bind.last}"
    return (
        f"drready simulate {device_class}: {bind.count} ECHONET Lite nodes on "
        f"udp://{span}:{bind.port}, one per address, serials {fleet_serial(0)}-"
        f"{fleet_serial(bind.count - 1)} (faults: {', '.join(faults) or 'none'}{speed}); "
        f"multicast {MULTICAST_GROUP}:{bind.port} answered by every node; Ctrl-C stops"
    )
