"""Tests for the datagram transports: the in-memory network and real UDP on loopback."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator

import pytest

from drready.echonet.codec import ECHONET_LITE_PORT, MULTICAST_GROUP
from drready.echonet.transport import (
    Address,
    MemoryEndpoint,
    MemoryNetwork,
    UdpEndpoint,
    open_udp_endpoint,
)

#: Upper bound for any wait in this file; loopback and in-memory delivery take microseconds.
WAIT_S = 2.0


class Inbox:
    """A datagram handler that keeps what it receives and lets a test await the n-th datagram."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, Address]] = []
        self._changed = asyncio.Event()

    def __call__(self, data: bytes, source: Address) -> None:
        self.received.append((data, source))
        self._changed.set()

    async def wait_for(self, count: int = 1) -> list[tuple[bytes, Address]]:
        async def until_count() -> None:
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until_count(), WAIT_S)
        return self.received


async def flush(network: MemoryNetwork, host: str = "198.51.100.254") -> None:
    """Wait until every datagram sent so far on ``network`` has been delivered.

    Deliveries are ``call_soon`` callbacks, run in order: once a marker datagram sent now has
    arrived, everything sent before it has arrived too (or was dropped for good).
    """
    marker = Inbox()
    sink = network.endpoint(marker, host, 9)
    source = network.endpoint(lambda data, address: None, host, 0)
    try:
        source.send(b"marker", sink.local_address)
        await marker.wait_for(1)
    finally:
        sink.close()
        source.close()


# --------------------------------------------------------------------------- memory network


async def test_memory_unicast_delivers_with_source_address() -> None:
    network = MemoryNetwork()
    inbox_a, inbox_b = Inbox(), Inbox()
    a = network.endpoint(inbox_a, "192.0.2.1", ECHONET_LITE_PORT)
    b = network.endpoint(inbox_b, "192.0.2.2", 5000)
    a.send(b"\x10\x81ping", ("192.0.2.2", 5000))
    assert await inbox_b.wait_for(1) == [(b"\x10\x81ping", ("192.0.2.1", ECHONET_LITE_PORT))]
    b.send(b"pong", a.local_address)
    assert await inbox_a.wait_for(1) == [(b"pong", ("192.0.2.2", 5000))]


async def test_memory_delivery_is_asynchronous_and_copies_the_data() -> None:
    network = MemoryNetwork()
    inbox = Inbox()
    receiver = network.endpoint(inbox, "192.0.2.2", 1)
    sender = network.endpoint(lambda data, address: None, "192.0.2.1", 1)
    buffer = bytearray(b"abc")
    sender.send(buffer, receiver.local_address)  # type: ignore[arg-type]
    # Delivered by the loop, never re-entrantly from send().
    assert inbox.received == []
    buffer[:] = b"xyz"
    assert await inbox.wait_for(1) == [(b"abc", ("192.0.2.1", 1))]
    assert type(inbox.received[0][0]) is bytes


async def test_memory_unicast_to_nobody_is_dropped() -> None:
    network = MemoryNetwork()
    inbox = Inbox()
    a = network.endpoint(inbox, "192.0.2.1", 1)
    a.send(b"lost", ("192.0.2.99", 1))
    a.send(b"lost", ("192.0.2.1", 2))  # right host, wrong port
    await flush(network)
    assert inbox.received == []


@pytest.mark.parametrize("count", [1, 3])
async def test_memory_port_zero_picks_distinct_free_ports(count: int) -> None:
    network = MemoryNetwork()
    taken = network.endpoint(lambda data, address: None, "192.0.2.1", 40000)
    endpoints = [network.endpoint(lambda data, address: None, "192.0.2.1") for _ in range(count)]
    ports = [ep.local_address[1] for ep in endpoints]
    assert len(set(ports)) == count
    assert all(port != 0 for port in ports)
    assert taken.local_address[1] not in ports
    assert all(ep.local_address[0] == "192.0.2.1" for ep in endpoints)


async def test_memory_address_in_use_raises_oserror() -> None:
    network = MemoryNetwork()
    first = network.endpoint(lambda data, address: None, "192.0.2.1", ECHONET_LITE_PORT)
    with pytest.raises(OSError, match=r"192\.0\.2\.1:3610 is already in use"):
        network.endpoint(lambda data, address: None, "192.0.2.1", ECHONET_LITE_PORT)
    # Same port on another host is a different address.
    network.endpoint(lambda data, address: None, "192.0.2.2", ECHONET_LITE_PORT)
    # Closing frees the address.
    first.close()
    network.endpoint(lambda data, address: None, "192.0.2.1", ECHONET_LITE_PORT)


async def test_memory_multicast_reaches_every_endpoint_on_the_port_but_the_sender() -> None:
    network = MemoryNetwork()
    inboxes = {name: Inbox() for name in ("sender", "node1", "node2", "other_port")}
    sender = network.endpoint(inboxes["sender"], "192.0.2.1", ECHONET_LITE_PORT)
    network.endpoint(inboxes["node1"], "192.0.2.10", ECHONET_LITE_PORT)
    network.endpoint(inboxes["node2"], "192.0.2.11", ECHONET_LITE_PORT)
    network.endpoint(inboxes["other_port"], "192.0.2.12", ECHONET_LITE_PORT + 1)
    sender.send(b"who is there", (MULTICAST_GROUP, ECHONET_LITE_PORT))
    await flush(network)
    expected = [(b"who is there", ("192.0.2.1", ECHONET_LITE_PORT))]
    assert {name: inbox.received for name, inbox in inboxes.items()} == {
        "sender": [],
        "node1": expected,
        "node2": expected,
        "other_port": [],
    }


async def test_memory_multicast_from_another_port_still_reaches_the_group_port() -> None:
    network = MemoryNetwork()
    inbox = Inbox()
    network.endpoint(inbox, "192.0.2.10", ECHONET_LITE_PORT)
    controller = network.endpoint(lambda data, address: None, "192.0.2.1", 0)
    controller.send(b"x", (MULTICAST_GROUP, ECHONET_LITE_PORT))
    assert await inbox.wait_for(1) == [(b"x", controller.local_address)]


async def test_memory_closed_endpoint_receives_and_sends_nothing() -> None:
    network = MemoryNetwork()
    inbox_a, inbox_b = Inbox(), Inbox()
    a = network.endpoint(inbox_a, "192.0.2.1", 1)
    b = network.endpoint(inbox_b, "192.0.2.2", 1)
    a.send(b"in flight", b.local_address)  # queued before b closes
    b.close()
    b.close()  # idempotent
    a.send(b"after close", b.local_address)
    a.send(b"multicast", (MULTICAST_GROUP, 1))
    b.send(b"from a closed endpoint", a.local_address)
    await flush(network)
    assert inbox_b.received == []
    assert inbox_a.received == []


async def test_memory_endpoint_satisfies_the_endpoint_interface() -> None:
    network = MemoryNetwork()
    endpoint = network.endpoint(lambda data, address: None, "192.0.2.1", 7)
    assert isinstance(endpoint, MemoryEndpoint)
    assert endpoint.local_address == ("192.0.2.1", 7)


# --------------------------------------------------------------------------- real UDP


@pytest.fixture
async def udp_pair() -> AsyncIterator[tuple[UdpEndpoint, Inbox, UdpEndpoint, Inbox]]:
    inbox_a, inbox_b = Inbox(), Inbox()
    a = await open_udp_endpoint(inbox_a, "127.0.0.1", 0)
    b = await open_udp_endpoint(inbox_b, "127.0.0.1", 0)
    yield a, inbox_a, b, inbox_b
    a.close()
    b.close()


async def test_udp_loopback_exchange(
    udp_pair: tuple[UdpEndpoint, Inbox, UdpEndpoint, Inbox],
) -> None:
    a, inbox_a, b, inbox_b = udp_pair
    a.send(b"\x10\x81\x00\x01hello", b.local_address)
    assert await inbox_b.wait_for(1) == [(b"\x10\x81\x00\x01hello", a.local_address)]
    b.send(b"reply", a.local_address)
    assert await inbox_a.wait_for(1) == [(b"reply", b.local_address)]
    assert a.last_error is None and b.last_error is None


async def test_udp_local_address_reports_the_real_port(
    udp_pair: tuple[UdpEndpoint, Inbox, UdpEndpoint, Inbox],
) -> None:
    a, _, b, _ = udp_pair
    for endpoint in (a, b):
        host, port = endpoint.local_address
        assert host == "127.0.0.1"
        assert 0 < port < 65536
    assert a.local_address != b.local_address


async def test_udp_send_after_close_is_ignored() -> None:
    inbox = Inbox()
    receiver = await open_udp_endpoint(inbox, "127.0.0.1", 0)
    sender = await open_udp_endpoint(lambda data, address: None, "127.0.0.1", 0)
    try:
        sender.close()
        sender.close()
        sender.send(b"nothing", receiver.local_address)  # must not raise
    finally:
        receiver.close()


async def test_udp_port_held_by_a_plain_socket_raises_oserror() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    try:
        port = holder.getsockname()[1]
        with pytest.raises(OSError) as caught:
            await open_udp_endpoint(lambda data, address: None, "127.0.0.1", port)
        assert caught.value.errno == errno.EADDRINUSE
    finally:
        holder.close()


async def test_udp_port_held_by_another_endpoint_raises_oserror() -> None:
    first = await open_udp_endpoint(lambda data, address: None, "127.0.0.1", 0)
    second: UdpEndpoint | None = None
    try:
        with pytest.raises(OSError) as caught:
            second = await open_udp_endpoint(
                lambda data, address: None, "127.0.0.1", first.local_address[1]
            )
        assert caught.value.errno == errno.EADDRINUSE
    finally:
        first.close()
        if second is not None:
            second.close()


async def test_udp_ipv6_loopback_exchange() -> None:
    inbox = Inbox()
    try:
        receiver = await open_udp_endpoint(inbox, "::1", 0)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    sender = await open_udp_endpoint(lambda data, address: None, "::1", 0)
    try:
        sender.send(b"v6", receiver.local_address)
        assert await inbox.wait_for(1) == [(b"v6", sender.local_address)]
        assert receiver.local_address[0] == "::1"
    finally:
        receiver.close()
        sender.close()


async def test_udp_multicast_over_loopback() -> None:
    """224.0.23.0 joined on the loopback interface; skipped only if this machine cannot route it."""
    inbox = Inbox()
    try:
        listener = await open_udp_endpoint(
            inbox, "127.0.0.1", 0, join_multicast=True, multicast_interface="127.0.0.1"
        )
    except OSError as exc:
        pytest.skip(f"cannot join {MULTICAST_GROUP} on the loopback interface here: {exc}")
    sender: UdpEndpoint | None = None
    try:
        # Joined too, so that IP_MULTICAST_IF sends the datagram out of loopback.
        sender = await open_udp_endpoint(
            lambda data, address: None,
            "127.0.0.1",
            0,
            join_multicast=True,
            multicast_interface="127.0.0.1",
        )
        group_port = listener.local_address[1]
        assert listener.local_address[0] == "0.0.0.0"  # the wildcard: needed to get group traffic
        sender.send(b"\x10\x81\x00\x01discover", (MULTICAST_GROUP, group_port))
        try:
            received = await inbox.wait_for(1)
        except TimeoutError:
            pytest.skip(
                f"multicast to {MULTICAST_GROUP} is not looped back on this machine "
                f"(nothing within {WAIT_S} s; sender error: {sender.last_error!r})"
            )
        data, source = received[0]
        assert data == b"\x10\x81\x00\x01discover"
        assert source == ("127.0.0.1", sender.local_address[1])
    finally:
        listener.close()
        if sender is not None:
            sender.close()
