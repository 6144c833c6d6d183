"""Reads of several properties in as few Gets as the device allows (drready.echonet.remote).

A device object is read in one Get frame of several EPCs, cut where the response would be too
large; a device that refuses a batch (Get_SNA) for EPCs it serves alone is asked one EPC at a time
and asked smaller batches from then on, and an EPC it refuses alone stays refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from drready.simulators.battery import BatteryConfig
from drready.simulators.runtime import SimulatedBattery

from drready.bindings.echonet_battery import EchonetBatteryBinding
from drready.clock import LoopRunner, VirtualClock
from drready.echonet.codec import (
    ECHONET_LITE_PORT,
    EOJ,
    ESV,
    NODE_PROFILE,
    Frame,
    Property,
    decode,
)
from drready.echonet.errors import DecodeError, RemoteError
from drready.echonet.gateway import Gateway
from drready.echonet.mapping import BATTERY_MAPPING_DEFAULTS
from drready.echonet.node import Node, ObjectBase
from drready.echonet.remote import MAX_EPCS_PER_GET, MAX_RESPONSE_BYTES, MappedObject
from drready.echonet.transport import Address, DatagramHandler, MemoryEndpoint, MemoryNetwork
from drready.evidence import EvidenceLog

BATTERY = EOJ(0x02, 0x7D, 0x01)
GATEWAY_HOST = "192.0.2.1"
DEVICE: Address = ("192.0.2.10", ECHONET_LITE_PORT)
#: What the small device below serves: each EPC's value and EDT size.
SERVED = {
    0xA4: (100, 4),
    0xA5: (200, 4),
    0xA8: (3, 4),
    0xA9: (4, 4),
    0xD3: (0, 4),
    0xE4: (50, 1),
    0xDA: (0x42, 1),
}

Reply = Callable[[Frame, Node], list[Frame]]


def answer(frame: Frame, node: Node) -> list[Frame]:
    return node.handle(frame)


def refuse_batches(frame: Frame, node: Node) -> list[Frame]:
    """A device that answers any Get of more than one EPC with Get_SNA and no value."""
    if frame.esv == ESV.GET and len(frame.properties) > 1:
        empty = tuple(Property(p.epc) for p in frame.properties)
        return [Frame(frame.tid, frame.deoj, frame.seoj, ESV.GET_SNA, empty)]
    return node.handle(frame)


def drop_last(frame: Frame, node: Node) -> list[Frame]:
    """A device whose Get_Res leaves out the last EPC asked."""
    replies = node.handle(frame)
    return [
        Frame(r.tid, r.seoj, r.deoj, r.esv, r.properties[:-1]) if len(r.properties) > 1 else r
        for r in replies
    ]


@dataclass
class Bench:
    runner: LoopRunner
    evidence: EvidenceLog
    obj: MappedObject
    reply: list[Reply]

    def gets(self) -> list[tuple[int, ...]]:
        """The EPCs of each Get sent so far."""
        frames = [decode(bytes.fromhex(r.data_hex)) for r in self.evidence if r.kind == "tx"]
        return [
            tuple(p.epc for p in f.properties)
            for f in frames
            if isinstance(f, Frame) and f.esv == ESV.GET
        ]


@pytest.fixture
def bench() -> Iterator[Bench]:
    runner = LoopRunner(VirtualClock())
    network = MemoryNetwork()
    evidence = EvidenceLog(runner.clock.now)
    gateway = Gateway(evidence, timeout_s=1.0, retries=0)
    gateway.attach(network.endpoint(gateway.datagram_received, GATEWAY_HOST))
    battery = ObjectBase(BATTERY)
    for epc, (value, size) in SERVED.items():
        battery.serve(epc, lambda value=value, size=size: value.to_bytes(size, "big"))
    node = Node(ObjectBase(NODE_PROFILE), [battery])
    reply: list[Reply] = [answer]

    def receive(data: bytes, source: Address) -> None:
        frame = decode(data)
        assert isinstance(frame, Frame)
        for response in reply[0](frame, node):
            endpoint.send(response.encode(), source)

    endpoint = network.endpoint(receive, *DEVICE)
    obj = MappedObject(gateway, DEVICE, 0x027D, 1, BATTERY_MAPPING_DEFAULTS)
    yield Bench(runner, evidence, obj, reply)
    gateway.close()
    runner.close()


# --------------------------------------------------------------------------- batching


def test_several_epcs_are_one_get(bench: Bench) -> None:
    values = bench.runner.run(bench.obj.get(0xD3, 0xDA, 0xE4, 0xA5))
    assert values == {0xD3: 0, 0xDA: "charging", 0xE4: 50, 0xA5: 200}
    assert bench.gets() == [(0xD3, 0xDA, 0xE4, 0xA5)]


def test_batches_are_cut_by_count() -> None:
    obj = MappedObject(_no_gateway(), DEVICE, 0x027D, 1, BATTERY_MAPPING_DEFAULTS)
    four_bytes = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA8, 0xA9, 0xD3, 0xEB, 0xEC]
    many = [*four_bytes, 0x80, 0x88, 0xDA, 0xCF, 0xE4, 0xE6, 0xDB, 0xC1, 0xC2]
    batches = obj.batches(many)
    assert [len(b) for b in batches] == [MAX_EPCS_PER_GET, len(many) - MAX_EPCS_PER_GET]
    assert [epc for b in batches for epc in b] == many
    obj.max_epcs_per_get = 3
    assert [len(b) for b in obj.batches(many)] == [3] * 6 + [2]


def test_batches_are_cut_where_the_response_would_be_too_large() -> None:
    obj = MappedObject(_no_gateway(), DEVICE, 0x027D, 1, BATTERY_MAPPING_DEFAULTS)
    obj.max_epcs_per_get = 255  # the size alone cuts
    # The property maps and maker codes 0xF1-0xFF: each of variable or unknown size.
    unknown = [0x9D, 0x9E, 0x9F, *range(0xF1, 0x100)]
    batches = obj.batches(unknown)
    assert [len(b) for b in batches] == [15, 3]
    for batch in batches:
        assert 12 + sum(2 + (obj.edt_size(e) or 32) for e in batch) <= MAX_RESPONSE_BYTES
    assert obj.batches([0xD3, 0xD3, 0xE4]) == [(0xD3, 0xE4)]  # each EPC once


def _no_gateway() -> Gateway:
    return Gateway(EvidenceLog(lambda: 0.0))


# --------------------------------------------------------------------------- fallbacks


def test_a_device_that_refuses_batches_is_asked_one_epc_at_a_time(bench: Bench) -> None:
    bench.reply[0] = refuse_batches
    values = bench.runner.run(bench.obj.get(0xD3, 0xE4, 0xA5, 0xA4))
    assert values == {0xD3: 0, 0xE4: 50, 0xA5: 200, 0xA4: 100}
    assert bench.gets() == [(0xD3, 0xE4, 0xA5, 0xA4), (0xD3,), (0xE4,), (0xA5,), (0xA4,)]
    # It refused a batch of 4 it could serve: batches of 2 from now on.
    assert bench.obj.max_epcs_per_get == 2
    bench.runner.run(bench.obj.get(0xA8, 0xA9, 0xDA))
    assert bench.gets()[5:7] == [(0xA8, 0xA9), (0xA8,)]


def test_an_epc_refused_alone_too_stays_refused(bench: Bench) -> None:
    read = bench.runner.run(bench.obj.read_raw([0xD3, 0x97, 0xE4]))
    assert read.values == {0xD3: bytes(4), 0xE4: bytes([50])}
    assert list(read.refused) == [0x97]
    assert read.refused[0x97].refused_epcs == (0x97,)
    # Each EPC is asked alone again; those it served in the batch too do not lower the limit.
    assert bench.gets() == [(0xD3, 0x97, 0xE4), (0xD3,), (0x97,), (0xE4,)]
    assert bench.obj.max_epcs_per_get == MAX_EPCS_PER_GET
    with pytest.raises(RemoteError) as caught:
        bench.runner.run(bench.obj.get(0xD3, 0x97))
    assert caught.value.refused_epcs == (0x97,)


def test_a_get_res_without_an_epc_asked_is_a_decode_error(bench: Bench) -> None:
    bench.reply[0] = drop_last
    with pytest.raises(DecodeError, match=r"lacks EPC\(s\) 0xE4"):
        bench.runner.run(bench.obj.get(0xD3, 0xE4))


# --------------------------------------------------------------------------- the bindings' reads


@pytest.fixture
def battery() -> Iterator[tuple[LoopRunner, EvidenceLog, EchonetBatteryBinding]]:
    runner = LoopRunner(VirtualClock())
    network = MemoryNetwork()
    evidence = EvidenceLog(runner.clock.now)
    gateway = Gateway(evidence, timeout_s=1.0, retries=0)
    gateway.attach(network.endpoint(gateway.datagram_received, GATEWAY_HOST))

    async def open_endpoint(handler: DatagramHandler) -> MemoryEndpoint:
        return network.endpoint(handler, *DEVICE)

    simulator = SimulatedBattery(open_endpoint, BatteryConfig())
    runner.run(simulator.start())
    yield runner, evidence, EchonetBatteryBinding(gateway, DEVICE)
    simulator.close()
    gateway.close()
    runner.close()


def _gets(evidence: EvidenceLog) -> list[int]:
    frames = [decode(bytes.fromhex(r.data_hex)) for r in evidence if r.kind == "tx"]
    return [len(f.properties) for f in frames if isinstance(f, Frame) and f.esv == ESV.GET]


@pytest.mark.parametrize(
    ("read", "epcs"),
    [("status", 9), ("identity", 4), ("read_target_w", 3)],
)
def test_a_battery_status_read_is_one_get(
    battery: tuple[LoopRunner, EvidenceLog, EchonetBatteryBinding], read: str, epcs: int
) -> None:
    runner, evidence, binding = battery
    runner.run(getattr(binding, read)())
    assert _gets(evidence) == [epcs]


def test_the_discovery_check_reads_the_get_map_in_batches(
    battery: tuple[LoopRunner, EvidenceLog, EchonetBatteryBinding],
) -> None:
    runner, evidence, binding = battery
    report = runner.run(binding.communication_check())
    assert report.problems == ()
    # The discovery Get, the maps, then the whole Get map in batches rather than one per EPC.
    sizes = _gets(evidence)
    assert sum(sizes[2:]) == len(report.get_map)
    assert len(sizes[2:]) == -(-len(report.get_map) // MAX_EPCS_PER_GET)
