"""Tests for the harness as home gateway: a Gateway and a Node connected by a MemoryNetwork.

Everything runs on one virtual-time loop, so timeouts and retries are exact to the virtual second
and cost no real time. The device side is a plain :class:`~drready.echonet.node.Node` whose
transport behaviour (answer, stay silent, answer late, wrong TID, wrong address) each test picks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from drready.clock import LoopRunner, VirtualClock
from drready.echonet.codec import (
    CONTROLLER,
    ECHONET_LITE_PORT,
    EOJ,
    ESV,
    MULTICAST_GROUP,
    NODE_PROFILE,
    ArbitraryFrame,
    Frame,
    Property,
    decode,
)
from drready.echonet.errors import EchonetTimeout, RemoteError
from drready.echonet.gateway import DiscoveredNode, Gateway, PropertyMaps, summarize
from drready.echonet.node import Node, ObjectBase
from drready.echonet.transport import Address, MemoryNetwork
from drready.evidence import EvidenceLog

T = TypeVar("T")

BATTERY = EOJ(0x02, 0x7D, 0x01)
GATEWAY_ADDRESS: Address = ("192.0.2.1", ECHONET_LITE_PORT)
DEVICE_ADDRESS: Address = ("192.0.2.10", ECHONET_LITE_PORT)
GROUP: Address = (MULTICAST_GROUP, ECHONET_LITE_PORT)

# Operation mode setting 0xDA (ECHONET Lite Appendix, storage battery): 0x42 charging,
# 0x43 discharging, 0x44 standby, 0x46 auto.
MODES = {b"\x42", b"\x43", b"\x44", b"\x46"}

Behaviour = Callable[[Frame, Address], None]


class FakeDevice:
    """A node with one battery object on a memory endpoint; ``behaviour`` decides what it sends."""

    def __init__(
        self, network: MemoryNetwork, address: Address = DEVICE_ADDRESS, eoj: EOJ = BATTERY
    ) -> None:
        self.mode = b"\x46"
        self.battery = ObjectBase(eoj)
        self.battery.serve(0x80, lambda: b"\x30", announce=True)
        self.battery.serve(0xDA, lambda: self.mode, self._set_mode, announce=True)
        self.battery.serve(0xE4, lambda: bytes([55]))
        self.node = Node(ObjectBase(NODE_PROFILE), [self.battery])
        self.received: list[tuple[Address, Frame]] = []
        self.behaviour: Behaviour = self.answer
        self.network = network
        self.endpoint = network.endpoint(self._receive, *address)

    def _set_mode(self, edt: bytes) -> bool:
        if edt not in MODES:
            return False
        self.mode = edt
        return True

    def _receive(self, data: bytes, source: Address) -> None:
        frame = decode(data)
        assert isinstance(frame, Frame)
        self.received.append((source, frame))
        self.behaviour(frame, source)

    def send(self, frame: Frame, address: Address) -> None:
        self.endpoint.send(frame.encode(), address)

    # -- behaviours ------------------------------------------------------------------------
    def answer(self, frame: Frame, source: Address) -> None:
        for reply in self.node.handle(frame):
            self.send(reply, source)

    def requests(self) -> list[Frame]:
        return [frame for _, frame in self.received if frame.esv.is_request]


@dataclass
class Bench:
    runner: LoopRunner
    network: MemoryNetwork
    evidence: EvidenceLog
    gateway: Gateway
    device: FakeDevice

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    @property
    def elapsed_s(self) -> float:
        return self.runner.clock.monotonic()

    def tx(self) -> list[bytes]:
        return [bytes.fromhex(r.data_hex) for r in self.evidence if r.kind == "tx"]


@pytest.fixture
def bench() -> Iterator[Bench]:
    runner = LoopRunner(VirtualClock())
    network = MemoryNetwork()
    evidence = EvidenceLog(runner.clock.now)
    gateway = Gateway(evidence, timeout_s=2.0, retries=2)
    gateway.attach(network.endpoint(gateway.datagram_received, *GATEWAY_ADDRESS))
    device = FakeDevice(network)
    yield Bench(runner, network, evidence, gateway, device)
    gateway.close()
    runner.close()


async def round_trip(gateway: Gateway) -> None:
    """A Get the device answers: everything sent before it has been handled when it returns.

    The memory network delivers in order, so this is a barrier, not a guess.
    """
    assert await gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]) == {0x80: b"\x30"}


async def until_idle() -> None:
    """Return once nothing is in flight.

    In virtual time the clock only moves when no callback is ready, so a timer, however short,
    fires after every queued datagram and every reply it caused has been handled.
    """
    await asyncio.sleep(1e-3)


# --------------------------------------------------------------------------- construction


@pytest.mark.parametrize(("timeout_s", "retries"), [(0, 2), (-1.0, 0), (2.0, -1)])
def test_gateway_rejects_bad_settings(timeout_s: float, retries: int) -> None:
    with pytest.raises(ValueError, match="timeout_s must be > 0 and retries >= 0"):
        Gateway(EvidenceLog(lambda: 0.0), timeout_s=timeout_s, retries=retries)


def test_request_without_endpoint_raises() -> None:
    runner = LoopRunner(VirtualClock(freeze_wall_clock=False))
    gateway = Gateway(EvidenceLog(runner.clock.now))
    try:
        with pytest.raises(RuntimeError, match="attach"):
            runner.run(gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
    finally:
        runner.close()


# --------------------------------------------------------------------------- Get / SetC / SetGet


@pytest.mark.parametrize(
    ("epcs", "expected"),
    [
        ([0x80], {0x80: b"\x30"}),
        ([0x80, 0xE4, 0xDA], {0x80: b"\x30", 0xE4: bytes([55]), 0xDA: b"\x46"}),
    ],
)
def test_get_returns_values(bench: Bench, epcs: list[int], expected: dict[int, bytes]) -> None:
    assert bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, epcs)) == expected
    assert bench.elapsed_s == 0  # answered at once, no timeout spent


@pytest.mark.parametrize(
    ("epcs", "refused"),
    [([0x97], (0x97,)), ([0x80, 0x97, 0xE4, 0xF0], (0x97, 0xF0))],
)
def test_get_of_unserved_epc_raises_remote_error(
    bench: Bench, epcs: list[int], refused: tuple[int, ...]
) -> None:
    with pytest.raises(RemoteError) as caught:
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, epcs))
    assert caught.value.esv == ESV.GET_SNA
    assert caught.value.refused_epcs == refused
    assert caught.value.frame.tid == decode(bench.tx()[0]).tid


def test_set_c_accepted(bench: Bench) -> None:
    reply = bench.run(bench.gateway.set_c(DEVICE_ADDRESS, BATTERY, [Property(0xDA, b"\x43")]))
    assert reply.esv == ESV.SET_RES
    assert reply.properties == (Property(0xDA),)
    assert bench.device.mode == b"\x43"


@pytest.mark.parametrize(
    ("values", "refused", "mode_after"),
    [
        ([Property(0xDA, b"\x99")], (0xDA,), b"\x46"),  # value out of range
        ([Property(0x80, b"\x31")], (0x80,), b"\x46"),  # get-only property
        # One EPC of two unknown: the node still writes the one it accepts (Spec. Part 2, 4.2.3.1).
        ([Property(0xDA, b"\x43"), Property(0xF0, b"\x00")], (0xF0,), b"\x43"),
    ],
    ids=["bad-value", "get-only", "partly-unknown"],
)
def test_set_c_refused_raises_remote_error(
    bench: Bench, values: list[Property], refused: tuple[int, ...], mode_after: bytes
) -> None:
    with pytest.raises(RemoteError) as caught:
        bench.run(bench.gateway.set_c(DEVICE_ADDRESS, BATTERY, values))
    assert caught.value.esv == ESV.SETC_SNA
    assert caught.value.refused_epcs == refused
    assert bench.device.mode == mode_after


def test_set_get_returns_the_get_block(bench: Bench) -> None:
    values = bench.run(
        bench.gateway.set_get(DEVICE_ADDRESS, BATTERY, [Property(0xDA, b"\x42")], [0xDA, 0x80])
    )
    assert values == {0xDA: b"\x42", 0x80: b"\x30"}
    request = decode(bench.tx()[0])
    assert isinstance(request, Frame)
    assert request.esv == ESV.SETGET
    assert request.get_properties == (Property(0xDA), Property(0x80))


def test_set_get_refused_raises_remote_error(bench: Bench) -> None:
    with pytest.raises(RemoteError) as caught:
        bench.run(bench.gateway.set_get(DEVICE_ADDRESS, BATTERY, [Property(0xDA, b"\x42")], [0x97]))
    assert caught.value.esv == ESV.SETGET_SNA
    assert caught.value.refused_epcs == (0x97,)


def test_read_property_maps(bench: Bench) -> None:
    maps = bench.run(bench.gateway.read_property_maps(DEVICE_ADDRESS, BATTERY))
    assert maps == PropertyMaps(
        get=frozenset({0x80, 0xDA, 0xE4, 0x9D, 0x9E, 0x9F}),
        set=frozenset({0xDA}),
        announce=frozenset({0x80, 0xDA}),
    )


def test_tids_are_fresh_per_request(bench: Bench) -> None:
    for _ in range(3):
        bench.run(round_trip(bench.gateway))
    tids = [frame.tid for frame in map(decode, bench.tx())]
    assert len(set(tids)) == 3
    assert 0 not in tids


# --------------------------------------------------------------------------- timeouts and retries


@pytest.mark.parametrize(("timeout_s", "retries"), [(2.0, 2), (0.5, 0), (1.5, 4)])
def test_silent_node_times_out_after_bounded_retries(
    bench: Bench, timeout_s: float, retries: int
) -> None:
    bench.gateway.timeout_s = timeout_s
    bench.gateway.retries = retries
    bench.device.behaviour = lambda frame, source: None
    start_time = bench.runner.clock.now()
    with pytest.raises(EchonetTimeout) as caught:
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
    assert bench.elapsed_s == (retries + 1) * timeout_s
    assert caught.value.attempts == retries + 1
    assert caught.value.timeout_s == timeout_s
    sent = bench.tx()
    assert len(sent) == caught.value.attempts == len(bench.device.requests())
    # Every retransmission is the same frame: same TID, same content.
    assert len(set(sent)) == 1
    assert caught.value.tid == decode(sent[0]).tid
    tx_times = [r.time - start_time for r in bench.evidence if r.kind == "tx"]
    assert tx_times == [attempt * timeout_s for attempt in range(retries + 1)]


def test_wrong_tid_is_ignored_and_the_request_times_out(bench: Bench) -> None:
    def wrong_tid(frame: Frame, source: Address) -> None:
        for reply in bench.device.node.handle(frame):
            bench.device.send(
                Frame(
                    (reply.tid + 1) & 0xFFFF, reply.seoj, reply.deoj, reply.esv, reply.properties
                ),
                source,
            )

    bench.device.behaviour = wrong_tid
    with pytest.raises(EchonetTimeout):
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
    tid = decode(bench.tx()[0]).tid
    assert [(source, frame.tid, frame.esv) for source, frame in bench.gateway.unmatched] == [
        (DEVICE_ADDRESS, tid + 1, ESV.GET_RES)
    ] * 3
    assert not bench.gateway.notifications


def test_late_reply_to_first_attempt_completes_during_a_retry(bench: Bench) -> None:
    loop = bench.runner.loop

    def late_first(frame: Frame, source: Address) -> None:
        if len(bench.device.received) == 1:
            # Answer the first attempt 3 s later: during the second attempt (2 s..4 s).
            loop.call_later(3.0, bench.device.answer, frame, source)

    bench.device.behaviour = late_first
    values = bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
    assert values == {0x80: b"\x30"}
    assert bench.elapsed_s == 3.0
    assert [r.kind for r in bench.evidence] == ["tx", "tx", "rx"]
    first, second = bench.tx()
    assert first == second  # the retry reused the first attempt's TID
    assert not bench.gateway.unmatched


def test_reply_from_another_host_is_not_accepted(bench: Bench) -> None:
    impostor: Address = ("192.0.2.99", ECHONET_LITE_PORT)
    impostor_endpoint = bench.network.endpoint(lambda data, source: None, *impostor)

    def reply_from_elsewhere(frame: Frame, source: Address) -> None:
        for reply in bench.device.node.handle(frame):
            impostor_endpoint.send(reply.encode(), source)

    bench.device.behaviour = reply_from_elsewhere
    bench.gateway.retries = 0
    with pytest.raises(EchonetTimeout):
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
    assert [(source, frame.esv) for source, frame in bench.gateway.unmatched] == [
        (impostor, ESV.GET_RES)
    ]


def test_reply_from_another_port_of_the_node_is_accepted(bench: Bench) -> None:
    # Stacks such as the npm echonet-lite module answer from a socket of their own (port
    # 23610), not from 3610: the node is its host, and the TID ties the reply to the request.
    other_port: Address = (DEVICE_ADDRESS[0], 23610)
    sender = bench.network.endpoint(lambda data, source: None, *other_port)

    def reply_from_another_socket(frame: Frame, source: Address) -> None:
        for reply in bench.device.node.handle(frame):
            sender.send(reply.encode(), source)

    bench.device.behaviour = reply_from_another_socket
    assert bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80])) == {0x80: b"\x30"}
    assert not bench.gateway.unmatched
    rx = [r.peer for r in bench.evidence if r.kind == "rx"]
    assert rx == ["192.0.2.10:23610"]  # the evidence says where it really came from


def test_unsolicited_response_goes_to_unmatched(bench: Bench) -> None:
    stray = Frame(0x4242, BATTERY, CONTROLLER, ESV.GET_RES, (Property(0x80, b"\x30"),))

    async def scenario() -> None:
        bench.device.send(stray, GATEWAY_ADDRESS)
        await round_trip(bench.gateway)

    bench.run(scenario())
    assert list(bench.gateway.unmatched) == [(DEVICE_ADDRESS, stray)]


# --------------------------------------------------------------------------- notifications


@pytest.mark.parametrize("destination", [GATEWAY_ADDRESS, GROUP], ids=["unicast", "multicast"])
def test_inf_from_the_device_lands_in_notifications(bench: Bench, destination: Address) -> None:
    inf = bench.device.node.announcement(bench.device.battery, [0x80, 0xDA], tid=0x0777)
    assert inf is not None

    async def scenario() -> None:
        bench.device.send(inf, destination)
        await round_trip(bench.gateway)

    bench.run(scenario())
    assert list(bench.gateway.notifications) == [(DEVICE_ADDRESS, inf)]
    assert not bench.gateway.unmatched
    # An INF is not acknowledged: the device only ever saw the barrier's Get.
    assert [frame.esv for _, frame in bench.device.received] == [ESV.GET]


def test_infc_gets_an_infc_res(bench: Bench) -> None:
    infc = Frame(0x0123, BATTERY, CONTROLLER, ESV.INFC, (Property(0xDA, b"\x42"),))

    async def scenario() -> None:
        bench.device.send(infc, GATEWAY_ADDRESS)
        await round_trip(bench.gateway)

    bench.run(scenario())
    assert list(bench.gateway.notifications) == [(DEVICE_ADDRESS, infc)]
    acks = [(source, frame) for source, frame in bench.device.received if frame.esv == ESV.INFC_RES]
    assert acks == [
        (GATEWAY_ADDRESS, Frame(0x0123, CONTROLLER, BATTERY, ESV.INFC_RES, (Property(0xDA),)))
    ]
    summaries = {(r.kind, r.summary) for r in bench.evidence}
    assert ("rx", "INFC 0x027D01->0x05FF01 TID 0x0123 [DA=42]") in summaries
    assert ("tx", "INFC_RES 0x05FF01->0x027D01 TID 0x0123 [DA]") in summaries


def test_silent_gateway_does_not_acknowledge_infc(bench: Bench) -> None:
    infc = Frame(0x0124, BATTERY, CONTROLLER, ESV.INFC, (Property(0xDA, b"\x42"),))
    bench.gateway.silent = True

    async def scenario() -> None:
        bench.device.send(infc, GATEWAY_ADDRESS)
        await until_idle()

    bench.run(scenario())
    assert list(bench.gateway.notifications) == [(DEVICE_ADDRESS, infc)]
    assert bench.device.received == []
    assert [r.kind for r in bench.evidence] == ["rx"]


# --------------------------------------------------------------------------- garbage in


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x10",
        b"\x80\x81\x00\x01\x05\xff\x01\x02\x7d\x01\x62\x01\x80\x00",  # conventional ECHONET
        b"\x10\x81\x00\x01\x05\xff\x01\x02\x7d\x01\x62\x01\x80\x05\x00",  # PDC past the end
        b"\x10\x81\x00\x01\x05\xff\x01\x02\x7d\x01\x99\x01\x80\x00",  # unknown ESV
    ],
    ids=["empty", "one-byte", "ehd1", "truncated", "esv"],
)
def test_undecodable_datagram_is_recorded_and_harmless(bench: Bench, garbage: bytes) -> None:
    async def scenario() -> None:
        bench.device.endpoint.send(garbage, GATEWAY_ADDRESS)
        await round_trip(bench.gateway)  # the gateway still works afterwards

    bench.run(scenario())
    assert len(bench.gateway.decode_errors) == 1
    source, data, message = bench.gateway.decode_errors[0]
    assert (source, data) == (DEVICE_ADDRESS, garbage)
    assert message.startswith("offset ")
    record = next(r for r in bench.evidence if r.kind == "rx")
    assert record.summary == f"undecodable datagram: {message}"
    assert record.data_hex == garbage.hex()
    assert record.peer == "192.0.2.10:3610"


def test_arbitrary_format_frame_is_logged_and_ignored(bench: Bench) -> None:
    frame = ArbitraryFrame(0x0102, b"abc")

    async def scenario() -> None:
        bench.device.endpoint.send(frame.encode(), GATEWAY_ADDRESS)
        await round_trip(bench.gateway)

    bench.run(scenario())
    received = [r.summary for r in bench.evidence if r.kind == "rx"]
    assert received[0] == "arbitrary-format TID 0x0102 (3 bytes)"
    assert not bench.gateway.decode_errors
    assert not bench.gateway.notifications
    assert not bench.gateway.unmatched


# --------------------------------------------------------------------------- discovery


def test_discover_over_multicast_finds_the_instance_list(bench: Bench) -> None:
    nodes = bench.run(bench.gateway.discover(GROUP, window_s=1.0))
    assert [node.instances for node in nodes] == [(BATTERY,)]
    assert bench.elapsed_s == 1.0  # the whole collection window, no more
    request = decode(bench.tx()[0])
    assert isinstance(request, Frame)
    assert (request.deoj, request.esv, request.properties) == (
        NODE_PROFILE,
        ESV.GET,
        (Property(0xD6),),
    )


def test_discover_collects_every_node(bench: Bench) -> None:
    second = FakeDevice(bench.network, ("192.0.2.11", ECHONET_LITE_PORT), EOJ(0x02, 0x7D, 0x02))
    nodes = bench.run(bench.gateway.discover(GROUP))
    assert sorted(str(node.instances[0]) for node in nodes) == ["0x027D01", "0x027D02"]
    assert second.battery.eoj == EOJ(0x02, 0x7D, 0x02)
    assert bench.elapsed_s == bench.gateway.timeout_s  # default window


def test_discover_ignores_a_node_that_stays_silent(bench: Bench) -> None:
    bench.device.behaviour = lambda frame, source: None
    assert bench.run(bench.gateway.discover(GROUP, window_s=0.5)) == []


def test_discover_reports_where_each_node_answered_from(bench: Bench) -> None:
    second = FakeDevice(bench.network, ("192.0.2.11", ECHONET_LITE_PORT), EOJ(0x02, 0x7D, 0x02))
    nodes = bench.run(bench.gateway.discover(GROUP, window_s=1.0))
    assert sorted(nodes, key=lambda node: node.address) == [
        DiscoveredNode(DEVICE_ADDRESS, (BATTERY,)),
        DiscoveredNode(("192.0.2.11", ECHONET_LITE_PORT), (second.battery.eoj,)),
    ]


def test_discover_by_unicast(bench: Bench) -> None:
    nodes = bench.run(bench.gateway.discover(DEVICE_ADDRESS, window_s=0.5))
    assert nodes == [DiscoveredNode(DEVICE_ADDRESS, (BATTERY,))]


# --------------------------------------------------------------------------- silence and evidence


def test_silent_gateway_refuses_to_send(bench: Bench) -> None:
    bench.gateway.silent = True
    with pytest.raises(RuntimeError, match="silent"):
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
    with pytest.raises(RuntimeError, match="silent"):
        bench.run(bench.gateway.discover(GROUP, window_s=0.5))
    assert len(bench.evidence) == 0
    assert bench.device.received == []
    bench.gateway.silent = False
    bench.run(round_trip(bench.gateway))


def test_every_datagram_is_in_the_evidence_with_a_summary(bench: Bench) -> None:
    bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80, 0xE4]))
    bench.run(bench.gateway.set_c(DEVICE_ADDRESS, BATTERY, [Property(0xDA, b"\x42")]))
    records = list(bench.evidence)
    assert [(r.kind, r.channel, r.peer) for r in records] == [
        ("tx", "echonet", "192.0.2.10:3610"),
        ("rx", "echonet", "192.0.2.10:3610"),
    ] * 2
    for record in records:
        frame = decode(bytes.fromhex(record.data_hex))
        assert record.summary == summarize(frame)
    assert [r.summary for r in records] == [
        "GET 0x05FF01->0x027D01 TID 0x0001 [80 E4]",
        "GET_RES 0x027D01->0x05FF01 TID 0x0001 [80=30 E4=37]",
        "SETC 0x05FF01->0x027D01 TID 0x0002 [DA=42]",
        "SET_RES 0x027D01->0x05FF01 TID 0x0002 [DA]",
    ]


@pytest.mark.parametrize(
    ("frame", "text"),
    [
        (
            Frame(1, CONTROLLER, BATTERY, ESV.GET, (Property(0x80),)),
            "GET 0x05FF01->0x027D01 TID 0x0001 [80]",
        ),
        (
            Frame(0xABCD, BATTERY, CONTROLLER, ESV.GET_RES, (Property(0xE4, b"\x37\x01"),)),
            "GET_RES 0x027D01->0x05FF01 TID 0xABCD [E4=3701]",
        ),
        (
            Frame(
                2, CONTROLLER, BATTERY, ESV.SETGET, (Property(0xDA, b"\x42"),), (Property(0xDA),)
            ),
            "SETGET 0x05FF01->0x027D01 TID 0x0002 [DA=42] get[DA]",
        ),
        (
            Frame(3, BATTERY, CONTROLLER, ESV.SETGET_SNA, (), (Property(0x97),)),
            "SETGET_SNA 0x027D01->0x05FF01 TID 0x0003 [] get[97]",
        ),
        (ArbitraryFrame(0x0102, b"xyz"), "arbitrary-format TID 0x0102 (3 bytes)"),
    ],
)
def test_summarize(frame: Frame | ArbitraryFrame, text: str) -> None:
    assert summarize(frame) == text


def test_an_error_in_the_receive_path_fails_the_request_instead_of_vanishing(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Evidence that cannot be written (a full disk) must not be swallowed by the transport
    # callback while the request quietly times out and is retried.
    add = bench.evidence.add

    def full_disk_on_rx(kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "rx":
            raise OSError(28, "No space left on device")
        return add(kind, *args, **kwargs)

    monkeypatch.setattr(bench.evidence, "add", full_disk_on_rx)
    with pytest.raises(OSError, match="No space left"):
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
    assert bench.elapsed_s < 1.0  # at once, not after the timeouts and retries
    with pytest.raises(OSError, match="No space left"):  # and every request after it
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))


# --------------------------------------------------------------------------- the observer hook


class RecordingObserver:
    """A FrameObserver that keeps what it is told."""

    def __init__(self) -> None:
        self.frames_sent: list[tuple[Frame, Address, int]] = []
        self.datagrams: list[tuple[bytes, Address, int]] = []

    def sent(self, frame: Frame, destination: Address, record: int) -> None:
        self.frames_sent.append((frame, destination, record))

    def received(self, data: bytes, source: Address, record: int) -> None:
        self.datagrams.append((data, source, record))


def test_the_observer_is_told_of_every_frame_and_datagram_with_its_record(bench: Bench) -> None:
    recorder = RecordingObserver()
    bench.gateway.observer = recorder
    infc = Frame(0x0123, BATTERY, CONTROLLER, ESV.INFC, (Property(0xDA, b"\x42"),))
    garbage = b"\x10\x81\x00"

    async def scenario() -> None:
        await bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80, 0xE4])
        bench.device.endpoint.send(garbage, GATEWAY_ADDRESS)
        bench.device.send(infc, GATEWAY_ADDRESS)
        await round_trip(bench.gateway)

    bench.run(scenario())
    records = list(bench.evidence)
    # Sent: the Get, the barrier's Get (sent before the device's datagrams arrive) and the
    # INFC_RES acknowledgement, each with its record.
    assert [(f.esv, d) for f, d, _ in recorder.frames_sent] == [
        (ESV.GET, DEVICE_ADDRESS),
        (ESV.GET, DEVICE_ADDRESS),
        (ESV.INFC_RES, DEVICE_ADDRESS),
    ]
    for frame, _, seq in recorder.frames_sent:
        assert records[seq].kind == "tx"
        assert bytes.fromhex(records[seq].data_hex) == frame.encode()
    # Received: every datagram, the undecodable one too, with its record.
    assert [data for data, _, _ in recorder.datagrams][1:3] == [garbage, infc.encode()]
    assert len(recorder.datagrams) == 4
    for data, source, seq in recorder.datagrams:
        assert source == DEVICE_ADDRESS
        assert records[seq].kind == "rx"
        assert bytes.fromhex(records[seq].data_hex) == data
    assert len(records) == len(recorder.frames_sent) + len(recorder.datagrams)


def test_an_observer_error_fails_the_request_instead_of_vanishing(bench: Bench) -> None:
    class Broken(RecordingObserver):
        def received(self, data: bytes, source: Address, record: int) -> None:
            raise ValueError("monitor bug")

    bench.gateway.observer = Broken()
    with pytest.raises(ValueError, match="monitor bug"):
        bench.run(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))


# --------------------------------------------------------------------------- one request per node


def test_one_request_in_flight_per_node(bench: Bench) -> None:
    # The node answers each request 1 s late: the second request waits for the first reply.
    loop = bench.runner.loop
    arrivals: list[float] = []

    def slow(frame: Frame, source: Address) -> None:
        arrivals.append(bench.elapsed_s)
        loop.call_later(1.0, bench.device.answer, frame, source)

    bench.device.behaviour = slow

    async def two_at_once() -> list[dict[int, bytes]]:
        return list(
            await asyncio.gather(
                bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]),
                bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0xE4]),
            )
        )

    assert bench.run(two_at_once()) == [{0x80: b"\x30"}, {0xE4: bytes([55])}]
    assert arrivals == [0.0, 1.0]
    assert bench.elapsed_s == 2.0


def test_requests_to_different_nodes_are_not_serialised(bench: Bench) -> None:
    other: Address = ("192.0.2.11", ECHONET_LITE_PORT)
    second = FakeDevice(bench.network, other)
    loop = bench.runner.loop
    for device in (bench.device, second):

        def slow(frame: Frame, source: Address, device: FakeDevice = device) -> None:
            loop.call_later(1.0, device.answer, frame, source)

        device.behaviour = slow

    async def both() -> None:
        await asyncio.gather(
            bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]),
            bench.gateway.get(other, BATTERY, [0x80]),
        )

    bench.run(both())
    assert bench.elapsed_s == 1.0


def test_a_node_that_never_answers_holds_the_next_request_only_for_its_bounded_attempts(
    bench: Bench,
) -> None:
    bench.device.behaviour = lambda frame, source: None
    bench.gateway.retries = 1

    async def two_at_once() -> list[BaseException | dict[int, bytes]]:
        return list(
            await asyncio.gather(
                bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]),
                bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0xE4]),
                return_exceptions=True,
            )
        )

    results = bench.run(two_at_once())
    assert all(isinstance(r, EchonetTimeout) for r in results)
    assert bench.elapsed_s == 2 * 2 * bench.gateway.timeout_s


def test_multicast_discovery_does_not_wait_for_a_request_in_flight(bench: Bench) -> None:
    loop = bench.runner.loop

    def slow_get(frame: Frame, source: Address) -> None:
        delay = 0.0 if frame.deoj == NODE_PROFILE else 3.0
        loop.call_later(delay, bench.device.answer, frame, source)

    bench.device.behaviour = slow_get

    async def scenario() -> float:
        request = asyncio.ensure_future(bench.gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]))
        await asyncio.sleep(0)
        nodes = await bench.gateway.discover(GROUP, window_s=0.5)
        assert [n.instances for n in nodes] == [(BATTERY,)]
        done_at = bench.elapsed_s
        await request
        return done_at

    assert bench.run(scenario()) == 0.5
