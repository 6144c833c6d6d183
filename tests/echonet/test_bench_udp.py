"""The gateway as a controller on a bench, over real UDP on loopback (error class 1 of issue 11).

Many ECHONET Lite nodes send every response to UDP port 3610 of the requester, whatever the
request's source port, and announce to the group 224.0.23.0. The gateway binds 3610 on its local
address and joins the group there; a gateway on an ephemeral port (what it did before) hears
nothing from such a node, which the control case here shows.

Each test binds its own random 127.x.y.z addresses (tests.helpers.loopback_hosts), joins the
group on loopback only, and waits a bounded time for every datagram.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from drready.simulators.battery import BatteryConfig
from drready.simulators.runtime import SimulatedBattery

from drready.echonet.codec import ECHONET_LITE_PORT, EOJ, ESV, MULTICAST_GROUP, Frame, decode
from drready.echonet.errors import EchonetTimeout
from drready.echonet.gateway import DiscoveredNode, Gateway
from drready.echonet.node import EPC_INSTANCE_LIST_NOTIFICATION
from drready.echonet.transport import (
    Address,
    DatagramHandler,
    PortInUseError,
    UdpEndpoint,
    open_controller_endpoints,
    open_group_endpoint,
    open_udp_endpoint,
    port_holder,
    route_source_address,
    udp_port_problem,
)
from drready.evidence import EvidenceLog
from drready.profile import SIMULATOR_ADDRESS, default_profile
from drready.run.session import open_dut
from tests.helpers import drready_run, loopback_hosts

REPO = Path(__file__).resolve().parents[2]
BATTERY = EOJ(0x02, 0x7D, 0x01)
GROUP: Address = (MULTICAST_GROUP, ECHONET_LITE_PORT)
#: Bound on every wait for a datagram on loopback.
WAIT_S = 5.0


class Observed:
    """A recording FrameObserver that lets a test await a datagram from a given host."""

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, Address, int]] = []
        self.changed = asyncio.Event()

    def sent(self, frame: Frame, destination: Address, record: int) -> None:
        """Frames sent are not what these tests wait for."""

    def received(self, data: bytes, source: Address, record: int) -> None:
        self.datagrams.append((data, source, record))
        self.changed.set()

    def received_from(self, host: str) -> list[bytes]:
        return [data for data, source, _ in self.datagrams if source[0] == host]

    async def wait_from(self, host: str) -> list[bytes]:
        async def until() -> None:
            while not self.received_from(host):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), WAIT_S)
        return self.received_from(host)


@dataclass
class Bench:
    gateway_host: str
    device_host: str
    gateway: Gateway
    observed: Observed

    @property
    def device(self) -> Address:
        return (self.device_host, ECHONET_LITE_PORT)


async def start_device(host: str, reply_port: int | None) -> tuple[SimulatedBattery, UdpEndpoint]:
    """The reference battery on ``host``:3610 with the group joined there, answering to
    ``reply_port`` (None: the request's source port)."""
    groups: list[UdpEndpoint] = []

    async def open_endpoint(handler: DatagramHandler) -> UdpEndpoint:
        unicast = await open_udp_endpoint(handler, host, ECHONET_LITE_PORT)
        groups.append(await open_group_endpoint(handler, host))
        return unicast

    device = SimulatedBattery(open_endpoint, BatteryConfig())
    device.reply_port = reply_port
    await device.start()
    return device, groups[0]


async def open_gateway(host: str, observed: Observed) -> Gateway:
    gateway = Gateway(EvidenceLog(time.time), timeout_s=0.5, retries=1, observer=observed)
    try:
        unicast, group = await open_controller_endpoints(gateway.datagram_received, host)
    except OSError as exc:
        pytest.skip(f"cannot join {MULTICAST_GROUP} on the loopback interface here: {exc}")
    assert group is not None
    gateway.attach(unicast, group)
    return gateway


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    gateway_host, device_host = loopback_hosts(2)
    observed = Observed()
    gateway = await open_gateway(gateway_host, observed)
    try:
        yield Bench(gateway_host, device_host, gateway, observed)
    finally:
        gateway.close()


# --------------------------------------------------------------------------- sockets


async def test_the_gateway_sends_from_3610_of_its_local_address(bench: Bench) -> None:
    assert bench.gateway.local_address == (bench.gateway_host, ECHONET_LITE_PORT)


def test_the_default_local_address_is_the_one_routing_to_the_device() -> None:
    # Found by connect() on a UDP socket: nothing is sent. Loopback routes from 127.0.0.1.
    assert route_source_address("127.0.0.2") == "127.0.0.1"


async def test_a_taken_port_names_its_holder() -> None:
    (host,) = loopback_hosts(1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((host, ECHONET_LITE_PORT))
        with pytest.raises(PortInUseError) as caught:
            await open_controller_endpoints(lambda data, source: None, host)
    message = str(caught.value)
    assert f"UDP {host}:3610 is already in use" in message
    assert f"held by pid {os.getpid()} (" in message, message


def test_drready_run_refuses_a_taken_port_3610_in_one_line(tmp_path: Path) -> None:
    local, device = loopback_hosts(2)
    text = (REPO / "drready" / "profile" / "builtin" / "battery.toml").read_text(encoding="utf-8")
    text = text.replace(
        f'address = "{SIMULATOR_ADDRESS}"', f'address = "{device}"\nlocal_address = "{local}"'
    )
    profile = tmp_path / "bench.toml"
    profile.write_text(text, encoding="utf-8")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((local, ECHONET_LITE_PORT))
        done = drready_run(profile, tmp_path / "run", timeout_s=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{local}:3610 is already in use, held by pid {os.getpid()} (" in lines[0]
    assert "local_address" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


# --------------------------------------------------------------------------- replies to 3610


@pytest.mark.parametrize("reply_port", [ECHONET_LITE_PORT, None], ids=["to-3610", "to-source"])
async def test_multicast_discovery_and_reads_of_a_node(
    bench: Bench, reply_port: int | None
) -> None:
    device, group = await start_device(bench.device_host, reply_port)
    try:
        nodes = await bench.gateway.discover(GROUP, window_s=1.0)
        ours = [node for node in nodes if node.address[0] == bench.device_host]
        assert ours == [DiscoveredNode(bench.device, (BATTERY,))]
        maps = await bench.gateway.read_property_maps(bench.device, BATTERY)
        assert {0x80, 0xDA, 0xD3} <= maps.get
        values = await bench.gateway.get(bench.device, BATTERY, [0x80, 0xDA])
        assert values[0x80] == b"\x30"
    finally:
        device.close()
        group.close()


async def test_unicast_discovery_of_a_node_that_answers_to_3610(bench: Bench) -> None:
    device, group = await start_device(bench.device_host, ECHONET_LITE_PORT)
    try:
        nodes = await bench.gateway.discover(bench.device, window_s=0.5)
        assert nodes == [DiscoveredNode(bench.device, (BATTERY,))]
    finally:
        device.close()
        group.close()


async def test_control_a_gateway_on_an_ephemeral_port_hears_nothing_from_it() -> None:
    # What the gateway did before: its own port, which a node answering to 3610 never uses.
    gateway_host, device_host = loopback_hosts(2)
    device, group = await start_device(device_host, ECHONET_LITE_PORT)
    gateway = Gateway(EvidenceLog(time.time), timeout_s=0.3, retries=0)
    gateway.attach(await open_udp_endpoint(gateway.datagram_received, gateway_host, 0))
    try:
        with pytest.raises(EchonetTimeout):
            await gateway.get((device_host, ECHONET_LITE_PORT), BATTERY, [0x80])
        assert await gateway.discover((device_host, ECHONET_LITE_PORT), window_s=0.3) == []
    finally:
        gateway.close()
        device.close()
        group.close()


# --------------------------------------------------------------------------- announcements


async def test_a_multicast_inf_reaches_the_gateway(bench: Bench) -> None:
    # The node announces its instance list to the group when it starts (Spec. Part 2, 4.3.1).
    device, group = await start_device(bench.device_host, None)
    try:
        await bench.observed.wait_from(bench.device_host)
        ours = [(s, f) for s, f in bench.gateway.notifications if s[0] == bench.device_host]
        assert ours, list(bench.gateway.notifications)
        source, frame = ours[0]
        assert source == bench.device
        assert frame.esv == ESV.INF
        assert frame.property(EPC_INSTANCE_LIST_NOTIFICATION) is not None
        # The observer saw the same datagram, with its evidence record.
        data = bench.observed.received_from(bench.device_host)[0]
        assert decode(data) == frame
    finally:
        device.close()
        group.close()


async def test_the_gateway_ignores_its_own_multicast(bench: Bench) -> None:
    # Its discovery request loops back to its own group socket: not a node's datagram, so
    # neither the evidence nor the observer gets it.
    await bench.gateway.discover(GROUP, window_s=0.3)
    assert bench.observed.received_from(bench.gateway_host) == []
    assert all(source[0] != bench.gateway_host for source, _ in bench.gateway.unmatched)


async def test_control_the_group_socket_does_hear_the_gateway_multicast(bench: Bench) -> None:
    # Without the own-address filter the test above would see the request: the loop-back is real.
    heard = Observed()
    group = await open_group_endpoint(
        lambda data, source: heard.received(data, source, 0), bench.gateway_host
    )
    try:
        await bench.gateway.discover(GROUP, window_s=0.3)
        assert await heard.wait_from(bench.gateway_host)
    finally:
        group.close()


def test_closing_the_device_lets_go_of_port_3610() -> None:
    # A maker may open and close the device again in one process (a REPL, a notebook).
    local, device = loopback_hosts(2)
    built_in = default_profile("battery")
    assert built_in.echonet is not None
    echonet = replace(built_in.echonet, address=device, local_address=local)
    profile = replace(built_in, echonet=echonet)
    for _ in range(2):
        dut = open_dut(profile)
        try:
            assert dut.local_address == (local, ECHONET_LITE_PORT)
            assert udp_port_problem(local, ECHONET_LITE_PORT) is not None
        finally:
            dut.close()
        assert udp_port_problem(local, ECHONET_LITE_PORT) is None


def _fake_proc(tmp_path: Path, udp: str, udp6: str = "") -> Path:
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when ... inode\n"
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "udp").write_text(header + udp, encoding="ascii")
    (tmp_path / "net" / "udp6").write_text(header + udp6, encoding="ascii")
    holder = tmp_path / "4242"
    (holder / "fd").mkdir(parents=True)
    (holder / "fd" / "7").symlink_to("socket:[55555]")
    (holder / "cmdline").write_bytes(b"python3\0-c\0import x\nrun()\0")
    return tmp_path


def _row(local: str, remote: str = "00000000:0000") -> str:
    """One line of /proc/net/udp: the local address, and inode 55555 in the tenth field."""
    return f"   1: {local} {remote} 07 00000000:00000000 00:00000000 00000000 0 0 55555 2 0 0\n"


# 127.0.0.5:3610 as Linux writes it (host byte order, little-endian here), 0.0.0.0:3610, [::]:3610.
_LOOPBACK_5 = _row("0500007F:0E1A")
_WILDCARD = _row("00000000:0E1A")
_V6_ANY = _row("0" * 32 + ":0E1A", "0" * 32 + ":0000")


@pytest.mark.skipif(sys.byteorder != "little", reason="the fake tables are written little-endian")
@pytest.mark.parametrize(
    ("udp", "udp6", "host", "expected"),
    [
        (_LOOPBACK_5, "", "127.0.0.5", "pid 4242 (python3 -c import x run()) on 127.0.0.5:3610"),
        (_WILDCARD, "", "127.0.0.5", "pid 4242 (python3 -c import x run()) on 0.0.0.0:3610"),
        ("", _V6_ANY, "127.0.0.5", "pid 4242 (python3 -c import x run()) on [::]:3610"),
        (_LOOPBACK_5, "", "127.0.0.6", None),  # another address: not in the way
    ],
    ids=["same-address", "wildcard", "ipv6-wildcard", "other-address"],
)
def test_port_holder_reads_the_socket_tables(
    tmp_path: Path, udp: str, udp6: str, host: str, expected: str | None
) -> None:
    assert port_holder(host, ECHONET_LITE_PORT, proc=_fake_proc(tmp_path, udp, udp6)) == expected


def test_port_holder_without_a_visible_process_names_the_socket(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, _LOOPBACK_5)
    (proc / "4242" / "fd" / "7").unlink()
    assert port_holder("127.0.0.5", ECHONET_LITE_PORT, proc=proc) == "a socket on 127.0.0.5:3610"
