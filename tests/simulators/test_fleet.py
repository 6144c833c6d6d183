"""A fleet of reference devices in one process (``drready simulate CLASS --count N --bind BLOCK``):
each device its own node on its own loopback address with its own identity, multicast discovery
through the fleet's one group socket, and the one-line refusals.

The fleets here use 127.0.9.0/26 and 127.0.12.0/22, which no other test binds, on a port the
system picks: nothing they do reaches the ECHONET Lite port 3610 other tests use.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest

from drready.cli.fleet import Fleet, FleetBind, fleet_specs, parse_fleet_bind, raise_open_file_limit
from drready.echonet.codec import (
    CONTROLLER,
    EOJ,
    ESV,
    MULTICAST_GROUP,
    NODE_PROFILE,
    Frame,
    Property,
)
from drready.echonet.gateway import Gateway
from drready.echonet.transport import open_udp_endpoint
from drready.errors import UsageError
from drready.evidence import EvidenceLog
from drready.model import DeviceClass
from drready.simulation import DeviceSpec
from tests.helpers import announced

BATTERY = EOJ(0x02, 0x7D, 0x01)
HEATPUMP = EOJ(0x02, 0x6B, 0x01)
SMALL_BLOCK = "127.0.9.0/26"
LARGE_BLOCK = "127.0.12.0/22"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- the block


def test_a_block_is_its_size_from_the_address_given() -> None:
    bind = parse_fleet_bind("127.0.1.0/22", 1000)
    assert (bind.host(0), bind.last, bind.port) == ("127.0.1.0", "127.0.4.231", 3610)
    assert parse_fleet_bind("127.0.9.0/26:3700", 64).last == "127.0.9.63"
    default = parse_fleet_bind(None, 1000)
    assert (default.host(0), default.last) == ("127.0.1.0", "127.0.4.231")
    assert parse_fleet_bind(None, 1).host(0) == "127.0.1.0"


@pytest.mark.parametrize(
    ("text", "count", "message"),
    [
        ("127.0.0.1:3610", 5, "--bind: with --count, expected a loopback block"),
        ("127.0.1.0/33", 5, "expected a loopback block"),
        ("127.0.1.0/24:70000", 5, "expected a loopback block"),
        ("10.1.0.0/24", 5, "loopback addresses only"),
        ("192.168.1.0/24", 5, "loopback addresses only"),
        ("127.0.9.0/26", 65, "the block 127.0.9.0/26 holds 64 addresses"),
        ("127.255.255.0/24", 256, "leave 127.0.0.1-127.255.255.254"),
        ("127.0.0.0/24", 5, "leave 127.0.0.1-127.255.255.254"),
        ("127.0.1.0/24", 0, "--count: expected a number of devices >= 1"),
    ],
)
def test_a_wrong_block_is_a_usage_error(text: str, count: int, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        parse_fleet_bind(text, count)


def test_too_few_open_files_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 512))
    with pytest.raises(UsageError, match="needs 1064 open files, and the hard limit is 512"):
        raise_open_file_limit(1000)
    raised: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "setrlimit", lambda _, limits: raised.append(limits))
    raise_open_file_limit(400)
    assert raised == [(464, 512)]


# --------------------------------------------------------------------------- a fleet in process


@asynccontextmanager
async def _fleet(
    count: int, device_class: DeviceClass = DeviceClass.BATTERY
) -> AsyncIterator[tuple[Fleet, Gateway]]:
    first = parse_fleet_bind(SMALL_BLOCK, count).first
    bind = FleetBind(first, count, _free_port(str(first)))
    fleet = Fleet(bind, fleet_specs(DeviceSpec(device_class)))
    await fleet.start()
    gateway = Gateway(EvidenceLog(lambda: 0.0), timeout_s=1.0, retries=2)
    gateway.attach(await open_udp_endpoint(gateway.datagram_received, "127.0.0.1", 0))
    try:
        yield fleet, gateway
    finally:
        gateway.close()
        fleet.close()
    fleet.check()


async def test_each_device_answers_from_its_own_address_with_its_own_identity() -> None:
    async with _fleet(50) as (fleet, gateway):
        port = fleet.bind.port
        identities = set()
        for index in range(50):
            address = (f"127.0.9.{index}", port)
            values = await gateway.get(address, BATTERY, [0x8D, 0x83, 0xD3])
            assert values[0x8D] == f"FLEET{index + 1:07d}".encode().ljust(12)
            identities.add(values[0x83])
        assert len(identities) == 50


async def test_a_multicast_discovery_finds_every_device_once() -> None:
    # 60 devices: more than one slice of the group socket's hand-over.
    async with _fleet(60, DeviceClass.HEATPUMP) as (fleet, gateway):
        nodes = await gateway.discover((MULTICAST_GROUP, fleet.bind.port), window_s=2.0)
        addresses = [node.address for node in nodes]
        assert sorted(addresses) == sorted((f"127.0.9.{k}", fleet.bind.port) for k in range(60))
        assert all(node.instances == (HEATPUMP,) for node in nodes)
        assert fleet.multicast_requests == 1


async def test_a_multicast_request_from_off_this_machine_is_not_answered() -> None:
    async with _fleet(3) as (fleet, _gateway):
        request = Frame(1, CONTROLLER, NODE_PROFILE, ESV.GET, (Property(0xD6),)).encode()
        replies: list[bytes] = []
        fleet._handlers[:] = [lambda data, source: replies.append(data)] * 3
        fleet._on_group(request, ("192.168.1.5", 3610))
        assert replies == [] and fleet.multicast_requests == 0
        fleet._on_group(request, ("127.0.0.1", 3610))
        assert len(replies) == 3 and fleet.multicast_requests == 1


async def test_an_address_in_use_is_named_and_nothing_stays_open() -> None:
    port = _free_port("127.0.9.3")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.9.3", port))
        fleet = Fleet(
            FleetBind(parse_fleet_bind(SMALL_BLOCK, 5).first, 5, port),
            fleet_specs(DeviceSpec(DeviceClass.BATTERY)),
        )
        with pytest.raises(OSError, match=f"UDP 127.0.9.3:{port}"):
            await fleet.start()
    # The three devices bound before the failure were let go (their sockets close as asyncio
    # closes transports, on the next turn of the loop).
    assert len(fleet.devices) == 4
    for device in fleet.devices:
        with pytest.raises(RuntimeError, match="not running"):
            _ = device.address


# --------------------------------------------------------------------------- the command


def _drready(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "drready.cli", "simulate", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["battery", "--count", "5", "--bind", "127.0.0.1:3610"], "expected a loopback block"),
        (["hybrid", "--count", "5", "--bind", "10.1.0.0/24"], "loopback addresses only"),
        (["servicer", "--count", "5"], "--count: not an option of the servicer"),
    ],
)
def test_command_refuses_a_wrong_fleet_in_one_line(args: list[str], message: str) -> None:
    done = _drready(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("drready: ") and message in lines[0], lines


@contextmanager
def _fleet_process(block: str, count: int, port: int) -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "drready.cli", "simulate", "battery", "--count", str(count)]
    with announced([*command, "--bind", f"{block}:{port}"], "the fleet") as (process, banner):
        first, _, _ = block.partition("/")
        assert banner.startswith(f"drready simulate battery: {count} ECHONET Lite nodes on "), (
            banner
        )
        assert f"udp://{first}-" in banner and f":{port}," in banner
        yield process
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0 and "stopped" in out, err
        assert "Traceback" not in err


async def _serials(port: int, hosts: list[str]) -> dict[str, bytes]:
    gateway = Gateway(EvidenceLog(lambda: 0.0), timeout_s=2.0, retries=2)
    gateway.attach(await open_udp_endpoint(gateway.datagram_received, "127.0.0.1", 0))
    serials: dict[str, bytes] = {}

    async def ask(host: str) -> None:
        serials[host] = (await gateway.get((host, port), BATTERY, [0x8D]))[0x8D]

    try:
        async with asyncio.timeout(120):
            for start in range(0, len(hosts), 50):
                await asyncio.gather(*(ask(host) for host in hosts[start : start + 50]))
    finally:
        gateway.close()
    return serials


def test_command_serves_a_fleet_and_stops_on_ctrl_c() -> None:
    port = _free_port("127.0.9.0")
    with _fleet_process(SMALL_BLOCK, 20, port):
        hosts = [f"127.0.9.{k}" for k in range(20)]
        serials = asyncio.run(_serials(port, hosts))
        assert len(set(serials.values())) == 20


@pytest.mark.slow
def test_a_thousand_devices_all_answer() -> None:
    port = _free_port("127.0.12.0")
    bind = parse_fleet_bind(LARGE_BLOCK, 1000)
    with _fleet_process(LARGE_BLOCK, 1000, port):
        hosts = [bind.host(k) for k in range(1000)]
        serials = asyncio.run(_serials(port, hosts))
        assert sorted(serials) == sorted(hosts)
        assert len(set(serials.values())) == 1000
