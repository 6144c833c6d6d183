"""Tests for the protocol monitor: each rule fails on a frame that breaks it and stays quiet on a
conforming exchange; the reference simulators' conforming exchanges draw no finding at all.

Most tests drive the monitor directly, as the gateway would (a frame sent, a datagram received,
each with its evidence record), so each rule is shown on exactly the frame that breaks it. The
last ones put it behind a real :class:`~drready.echonet.gateway.Gateway` (retransmissions, late
replies) and behind the gateway session of each reference simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from drready.clock import LoopRunner, VirtualClock
from drready.device import DeviceUnderTest
from drready.echonet.codec import (
    CONTROLLER,
    ECHONET_LITE_PORT,
    EOJ,
    ESV,
    MULTICAST_GROUP,
    NODE_PROFILE,
    Frame,
    Property,
    decode,
    encode_instance_list,
    encode_property_map,
)
from drready.echonet.gateway import Gateway
from drready.echonet.mapping import EpcMapping
from drready.echonet.monitor import FINDINGS_PER_RULE, RULES, ProtocolMonitor
from drready.echonet.node import Node, ObjectBase
from drready.echonet.transport import Address, MemoryNetwork
from drready.evidence import EvidenceLog, Finding
from drready.profile import default_profile
from drready.run.session import open_dut

BATTERY = EOJ(0x02, 0x7D, 0x01)
DEVICE: Address = ("192.0.2.10", ECHONET_LITE_PORT)
OTHER_DEVICE: Address = ("192.0.2.11", ECHONET_LITE_PORT)
GATEWAY_ADDRESS: Address = ("192.0.2.1", ECHONET_LITE_PORT)
GROUP: Address = (MULTICAST_GROUP, ECHONET_LITE_PORT)

#: Values the MRA accepts for the storage battery (0x027D): operation status ON, remaining
#: capacity 3 (%), operation mode auto (0x46).
VALUES = {0x80: b"\x30", 0xE4: bytes([55]), 0xDA: b"\x46"}
GET_MAP = frozenset({0x80, 0xDA, 0xE4, 0x9D, 0x9E, 0x9F})
SET_MAP = frozenset({0xDA})
ANNOUNCE_MAP = frozenset({0x80, 0xDA})
#: A profile that maps an item onto 0xE4 in 2 bytes, where the MRA has 1.
SOC_MAPPING = {"soc_pct": EpcMapping(epc=0xE4, size=2)}


@dataclass
class Wire:
    """The monitor, with the gateway's side played by hand: each frame gets the next record."""

    monitor: ProtocolMonitor
    findings: list[Finding] = field(default_factory=list)
    record: int = 0

    def send(self, frame: Frame, destination: Address = DEVICE) -> int:
        self.record += 1
        self.monitor.sent(frame, destination, self.record)
        return self.record

    def receive(self, reply: Frame | bytes, source: Address = DEVICE) -> int:
        self.record += 1
        data = reply.encode() if isinstance(reply, Frame) else reply
        self.monitor.received(data, source, self.record)
        return self.record

    def rules(self) -> list[str]:
        return [f.rule for f in self.findings]


def _wire(*, mapping: dict[str, EpcMapping] | None = None, device_host: str | None = None) -> Wire:
    findings: list[Finding] = []
    return Wire(ProtocolMonitor(findings, mapping=mapping, device_host=device_host), findings)


@pytest.fixture
def wire() -> Wire:
    return _wire()


def get(tid: int, *epcs: int, deoj: EOJ = BATTERY) -> Frame:
    return Frame(tid, CONTROLLER, deoj, ESV.GET, tuple(Property(e) for e in epcs))


def served(request: Frame, **overrides: object) -> Frame:
    """The conforming Get_Res to ``request``, with any field replaced."""
    fields: dict[str, object] = {
        "tid": request.tid,
        "seoj": request.deoj,
        "deoj": request.seoj,
        "esv": ESV.GET_RES,
        "get_properties": (),
        **overrides,
    }
    if "properties" not in fields:
        fields["properties"] = tuple(Property(p.epc, VALUES[p.epc]) for p in request.properties)
    return Frame(**fields)  # type: ignore[arg-type]


def read_maps(wire: Wire, tid: int = 0x0100, source: Address = DEVICE) -> None:
    request = get(tid, 0x9F, 0x9E, 0x9D)
    wire.send(request, source)
    maps = (
        Property(0x9F, encode_property_map(GET_MAP)),
        Property(0x9E, encode_property_map(SET_MAP)),
        Property(0x9D, encode_property_map(ANNOUNCE_MAP)),
    )
    wire.receive(served(request, properties=maps), source)


def inf(tid: int, *props: Property, seoj: EOJ = BATTERY, esv: ESV = ESV.INF) -> Frame:
    return Frame(tid, seoj, NODE_PROFILE, esv, props)


# --------------------------------------------------------------------------- conforming exchanges


def _get_and_answer(wire: Wire) -> None:
    request = get(1, 0x80, 0xE4, 0xDA)
    wire.send(request)
    wire.receive(served(request))


def _get_refused(wire: Wire) -> None:
    read_maps(wire)
    request = get(2, 0x80, 0x97)  # 0x97 is not in the Get map: refusing it is right
    wire.send(request)
    wire.receive(
        served(request, esv=ESV.GET_SNA, properties=(Property(0x80, b"\x30"), Property(0x97)))
    )


def _set_accepted_and_refused(wire: Wire) -> None:
    request = Frame(3, CONTROLLER, BATTERY, ESV.SETC, (Property(0xDA, b"\x43"),))
    wire.send(request)
    wire.receive(request.reply(ESV.SET_RES, (Property(0xDA),)))
    refused = Frame(4, CONTROLLER, BATTERY, ESV.SETC, (Property(0xDA, b"\x99"),))
    wire.send(refused)
    wire.receive(refused.reply(ESV.SETC_SNA, (Property(0xDA, b"\x99"),)))


def _set_get(wire: Wire) -> None:
    request = Frame(
        5, CONTROLLER, BATTERY, ESV.SETGET, (Property(0xDA, b"\x43"),), (Property(0xE4),)
    )
    wire.send(request)
    wire.receive(request.reply(ESV.SETGET_RES, (Property(0xDA),), (Property(0xE4, b"\x37"),)))


def _instance_zero(wire: Wire) -> None:
    request = get(6, 0x80, deoj=EOJ(0x02, 0x7D, 0x00))
    wire.send(request)
    wire.receive(served(request, seoj=BATTERY))


def _node_profile_any_instance(wire: Wire) -> None:
    request = get(7, 0x80, deoj=EOJ(0x0E, 0xF0, 0x00))
    wire.send(request)
    wire.receive(served(request, seoj=EOJ(0x0E, 0xF0, 0x02)))


def _multicast_discovery(wire: Wire) -> None:
    request = get(8, 0xD6, deoj=NODE_PROFILE)
    wire.send(request, GROUP)
    for host, eoj in (("192.0.2.10", BATTERY), ("192.0.2.11", EOJ(0x02, 0x6B, 0x01))):
        instances = Property(0xD6, encode_instance_list([eoj]))
        wire.receive(served(request, properties=(instances,)), (host, ECHONET_LITE_PORT))


def _retransmission_answered_twice(wire: Wire) -> None:
    request = get(9, 0x80)
    wire.send(request)
    wire.send(request)  # the gateway's retry: same TID
    wire.receive(served(request))
    wire.receive(served(request))


def _late_reply_to_attempt_one(wire: Wire) -> None:
    request = get(10, 0x80)
    wire.send(request)
    wire.send(request)
    wire.receive(served(request))  # the reply to attempt 1, after attempt 2 went out
    wire.send(get(11, 0xE4))  # the gateway moved on
    wire.receive(served(request))  # and the reply to attempt 2, later still


def _announcements(wire: Wire) -> None:
    wire.receive(inf(0x4000, Property(0x80, b"\x30")))  # maps not read yet: not judged
    read_maps(wire)
    wire.receive(inf(0x4001, Property(0xDA, b"\x42")))
    # INFC is a notification to this controller, not a status change announcement.
    wire.receive(inf(0x4002, Property(0xE4, b"\x37"), esv=ESV.INFC))


def _inf_req_answered(wire: Wire) -> None:
    request = Frame(12, CONTROLLER, BATTERY, ESV.INF_REQ, (Property(0xE4),))
    wire.send(request)
    wire.receive(request.reply(ESV.INF, (Property(0xE4, b"\x37"),)))


def _maker_specific_epc(wire: Wire) -> None:
    request = get(13, 0xF5)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0xF5, b"\x01\x02\x03"),)))


def _mapped_item_on_a_standard_epc(wire: Wire) -> None:
    request = get(14, 0xE4)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0xE4, b"\x00\xc8"),)))  # 200 in 2 bytes


def _tid_comes_round(wire: Wire) -> None:
    first, again = get(15, 0x80), get(15, 0xE4)
    wire.send(first)
    wire.receive(served(first))
    wire.send(again)  # same TID, another request: a new account
    wire.receive(served(again))


def _reply_from_another_port(wire: Wire) -> None:
    request = get(16, 0x80)
    wire.send(request)
    wire.receive(served(request), (DEVICE[0], 49152))  # the port is the gateway's business


def _request_from_the_device(wire: Wire) -> None:
    wire.receive(Frame(0x10, BATTERY, CONTROLLER, ESV.GET, (Property(0x80),)))


def _arbitrary_format(wire: Wire) -> None:
    wire.receive(bytes.fromhex("10820005") + b"anything")


def _infc_acknowledged(wire: Wire) -> None:
    notice = inf(0x4004, Property(0x80, b"\x30"), esv=ESV.INFC)
    wire.receive(notice)
    wire.send(notice.reply(ESV.INFC_RES, (Property(0x80),)))  # the gateway's ack


def _properties_reordered(wire: Wire) -> None:
    request = get(1, 0x80, 0xE4)
    wire.send(request)
    reply = served(request)
    wire.receive(served(request, properties=tuple(reversed(reply.properties))))


CONFORMING: dict[str, Callable[[Wire], None]] = {
    "properties in another order than asked": _properties_reordered,
    "get": _get_and_answer,
    "get refused, not listed": _get_refused,
    "set accepted and refused": _set_accepted_and_refused,
    "setget": _set_get,
    "instance 0x00": _instance_zero,
    "node profile instance 0x00": _node_profile_any_instance,
    "multicast discovery, two nodes": _multicast_discovery,
    "retransmission answered twice": _retransmission_answered_twice,
    "late reply to attempt 1": _late_reply_to_attempt_one,
    "announcements": _announcements,
    "INF_REQ answered by INF": _inf_req_answered,
    "maker-specific EPC": _maker_specific_epc,
    "mapped item": _mapped_item_on_a_standard_epc,
    "TID comes round": _tid_comes_round,
    "reply from another port of the host": _reply_from_another_port,
    "request from the device": _request_from_the_device,
    "arbitrary message format": _arbitrary_format,
    "INFC acknowledged": _infc_acknowledged,
}


@pytest.mark.parametrize("exchange", CONFORMING.values(), ids=CONFORMING.keys())
def test_conforming_exchange_draws_no_finding(exchange: Callable[[Wire], None]) -> None:
    wire = _wire(mapping=SOC_MAPPING) if exchange is _mapped_item_on_a_standard_epc else _wire()
    exchange(wire)
    assert wire.findings == []
    assert wire.monitor.summary().startswith("no violations")


# --------------------------------------------------------------------------- each rule broken


def _answered_with_the_wrong_service(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request, esv=ESV.SET_RES, properties=(Property(0x80),)))


def _wrong_tid(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request, tid=2))


def _unsolicited(wire: Wire) -> None:
    _get_and_answer(wire)
    wire.receive(served(get(0x0777, 0x80)))  # nothing is waiting, TID never sent


def _reply_from_another_node(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request), OTHER_DEVICE)


def _reply_from_an_address_never_asked(wire: Wire) -> None:
    wire.receive(served(get(1, 0x80)), OTHER_DEVICE)


def _wrong_seoj(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request, seoj=EOJ(0x02, 0x7D, 0x02)))


def _node_profile_wrong_instance(wire: Wire) -> None:
    request = get(1, 0x80, deoj=NODE_PROFILE)  # 0x0EF001: exactly that object
    wire.send(request)
    wire.receive(served(request, seoj=EOJ(0x0E, 0xF0, 0x02)))


def _node_profile_no_such_instance(wire: Wire) -> None:
    request = get(1, 0x80, deoj=EOJ(0x0E, 0xF0, 0x00))
    wire.send(request)
    wire.receive(served(request, seoj=EOJ(0x0E, 0xF0, 0x03)))


def _wrong_deoj(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request, deoj=EOJ(0x05, 0xFF, 0x02)))


def _property_missing(wire: Wire) -> None:
    request = get(1, 0x80, 0xE4)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0x80, b"\x30"),)))


def _get_res_without_value(wire: Wire) -> None:
    request = get(1, 0x80, 0xE4)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0x80, b"\x30"), Property(0xE4))))


def _set_res_with_value(wire: Wire) -> None:
    request = Frame(1, CONTROLLER, BATTERY, ESV.SETC, (Property(0xDA, b"\x43"),))
    wire.send(request)
    wire.receive(request.reply(ESV.SET_RES, (Property(0xDA, b"\x43"),)))


def _get_sna_refusing_nothing(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request, esv=ESV.GET_SNA))


def _setc_sna_refusing_nothing(wire: Wire) -> None:
    request = Frame(1, CONTROLLER, BATTERY, ESV.SETC, (Property(0xDA, b"\x43"),))
    wire.send(request)
    wire.receive(request.reply(ESV.SETC_SNA, (Property(0xDA),)))


def _setget_res_without_value(wire: Wire) -> None:
    request = Frame(
        1, CONTROLLER, BATTERY, ESV.SETGET, (Property(0xDA, b"\x43"),), (Property(0xE4),)
    )
    wire.send(request)
    wire.receive(request.reply(ESV.SETGET_RES, (Property(0xDA),), (Property(0xE4),)))


def _edt_wrong_size(wire: Wire) -> None:
    request = get(1, 0xE4)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0xE4, b"\x00\x37"),)))


def _edt_out_of_range(wire: Wire) -> None:
    request = get(1, 0xE4)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0xE4, bytes([101])),)))  # 101 %


def _inf_edt_undefined_state(wire: Wire) -> None:
    wire.receive(inf(0x4000, Property(0x80, b"\x35")))  # operation status is 0x30 or 0x31


def _mapped_item_wrong_size(wire: Wire) -> None:
    request = get(1, 0xE4)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0xE4, b"\x37"),)))  # mapped: 2 bytes


def _get_map_listed_but_refused(wire: Wire) -> None:
    read_maps(wire)
    request = get(1, 0xE4)
    wire.send(request)
    wire.receive(served(request, esv=ESV.GET_SNA, properties=(Property(0xE4),)))


def _get_map_unlisted_but_served(wire: Wire) -> None:
    read_maps(wire)
    request = get(1, 0x88)
    wire.send(request)
    wire.receive(served(request, properties=(Property(0x88, b"\x42"),)))


def _announced_outside_the_map(wire: Wire) -> None:
    read_maps(wire)
    wire.receive(inf(0x4000, Property(0xE4, b"\x37")))


def _duplicate(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request))
    wire.receive(served(request))


def _three_replies_to_two_attempts(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.send(request)
    for _ in range(3):
        wire.receive(served(request))


def _multicast_node_answers_twice(wire: Wire) -> None:
    request = get(1, 0xD6, deoj=NODE_PROFILE)
    wire.send(request, GROUP)
    instances = Property(0xD6, encode_instance_list([BATTERY]))
    wire.receive(served(request, properties=(instances,)))
    wire.receive(served(request, properties=(instances,)))


def _malformed(wire: Wire) -> None:
    request = get(1, 0x80)
    wire.send(request)
    wire.receive(served(request).encode()[:-1])


BROKEN: dict[str, tuple[Callable[[Wire], None], str]] = {
    "Get answered by Set_Res": (_answered_with_the_wrong_service, "reply-esv"),
    "wrong TID": (_wrong_tid, "tid-echo"),
    "reply to nothing": (_unsolicited, "unsolicited-response"),
    "reply from another node": (_reply_from_another_node, "reply-source"),
    "reply from an address never asked": (_reply_from_an_address_never_asked, "reply-source"),
    "wrong SEOJ": (_wrong_seoj, "seoj"),
    "node profile 0x02 for 0x01": (_node_profile_wrong_instance, "seoj"),
    "node profile 0x03": (_node_profile_no_such_instance, "seoj"),
    "wrong DEOJ": (_wrong_deoj, "deoj"),
    "property missing": (_property_missing, "property-list"),
    "Get_Res with PDC 0": (_get_res_without_value, "pdc"),
    "Set_Res with a value": (_set_res_with_value, "pdc"),
    "Get_SNA refusing nothing": (_get_sna_refusing_nothing, "pdc"),
    "SetC_SNA refusing nothing": (_setc_sna_refusing_nothing, "pdc"),
    "SetGet_Res with PDC 0": (_setget_res_without_value, "pdc"),
    "EDT size": (_edt_wrong_size, "edt"),
    "EDT range": (_edt_out_of_range, "edt"),
    "INF with an undefined state": (_inf_edt_undefined_state, "edt"),
    "mapped item size": (_mapped_item_wrong_size, "edt"),
    "Get map lists a refused EPC": (_get_map_listed_but_refused, "get-map"),
    "Get map lacks a served EPC": (_get_map_unlisted_but_served, "get-map"),
    "INF outside the announce map": (_announced_outside_the_map, "announce-map"),
    "duplicate": (_duplicate, "duplicate-response"),
    "three replies to two attempts": (_three_replies_to_two_attempts, "duplicate-response"),
    "multicast: one node twice": (_multicast_node_answers_twice, "duplicate-response"),
    "malformed": (_malformed, "malformed-frame"),
}


@pytest.mark.parametrize(("exchange", "rule"), BROKEN.values(), ids=BROKEN.keys())
def test_each_rule_fails_on_a_frame_that_breaks_it(
    exchange: Callable[[Wire], None], rule: str
) -> None:
    wire = _wire(mapping=SOC_MAPPING) if exchange is _mapped_item_wrong_size else _wire()
    exchange(wire)
    assert wire.rules() == [rule], [f.summary for f in wire.findings]
    finding = wire.findings[0]
    assert finding.requirement == "*-1.1"
    # The frame that broke the rule is the last one received; it is in the evidence.
    assert finding.records[-1] == wire.record
    assert wire.monitor.counts[rule] == 1
    assert rule in wire.monitor.summary()


def test_every_rule_is_shown_failing() -> None:
    assert {rule for _, rule in BROKEN.values()} == set(RULES)


def test_summary_says_what_was_expected_and_what_came(wire: Wire) -> None:
    request = get(0x0005, 0xE4)
    asked = wire.send(request)
    got = wire.receive(served(request, tid=0x8005))
    (finding,) = wire.findings
    assert finding.records == (asked, got)
    assert "TID 0x8005" in finding.summary and "expected TID 0x0005" in finding.summary
    assert "[E4]" in finding.summary

    _edt_wrong_size(wire)
    assert "EPC 0xE4 EDT 0037 (2 byte(s))" in wire.findings[-1].summary
    assert "expected 1 byte, got 2" in wire.findings[-1].summary


def test_findings_are_capped_per_rule_and_the_rest_counted(wire: Wire) -> None:
    for _ in range(FINDINGS_PER_RULE + 30):
        wire.receive(b"\x10\x81\x00")
    _wrong_deoj(wire)
    malformed = [f for f in wire.findings if f.rule == "malformed-frame"]
    assert len(malformed) == FINDINGS_PER_RULE + 1
    assert "counted, not listed" in malformed[-1].summary
    assert wire.monitor.counts["malformed-frame"] == FINDINGS_PER_RULE + 30
    assert [f.rule for f in wire.findings if f.rule != "malformed-frame"] == ["deoj"]
    assert "malformed-frame 50" in wire.monitor.summary()


def test_other_hosts_are_not_judged_when_the_device_is_named() -> None:
    wire = _wire(device_host=DEVICE[0])
    wire.receive(b"\x10\x81", OTHER_DEVICE)  # another node's garbage on the LAN
    wire.receive(served(get(1, 0x80)), OTHER_DEVICE)
    assert wire.findings == []
    assert wire.monitor.counts == {"other-node": 2}
    wire.receive(b"\x10\x81", DEVICE)
    assert wire.rules() == ["malformed-frame"]


def test_request_history_is_bounded(wire: Wire) -> None:
    first = get(1, 0x80)
    wire.send(first)
    for tid in range(2, 2 + 1100):
        request = get(tid, 0x80)
        wire.send(request)
        wire.receive(served(request))
    wire.receive(served(first))  # so late that the account of it is gone
    assert wire.rules() == ["unsolicited-response"]


# --------------------------------------------------------------------------- behind a gateway


#: What the device does with a request: (delay in seconds, reply) for each reply it sends.
Answer = Callable[[Frame], list[tuple[float, Frame]]]


@dataclass
class Bench:
    runner: LoopRunner
    gateway: Gateway
    findings: list[Finding]
    node: Node
    answer: Answer | None = None

    def answers(self, request: Frame) -> list[tuple[float, Frame]]:
        if self.answer is not None:
            return self.answer(request)
        return [(0.0, reply) for reply in self.node.handle(request)]


@pytest.fixture
def bench() -> Iterator[Bench]:
    runner = LoopRunner(VirtualClock(freeze_wall_clock=False))
    network = MemoryNetwork()
    evidence = EvidenceLog(runner.clock.now)
    gateway = Gateway(evidence, timeout_s=2.0, retries=2)
    gateway.attach(network.endpoint(gateway.datagram_received, *GATEWAY_ADDRESS))
    findings: list[Finding] = []
    gateway.observer = ProtocolMonitor(findings)
    battery = ObjectBase(BATTERY)
    for epc, value in VALUES.items():
        battery.serve(epc, lambda value=value: value)
    bench = Bench(runner, gateway, findings, Node(ObjectBase(NODE_PROFILE), [battery]))

    def receive(data: bytes, source: Address) -> None:
        request = decode(data)
        assert isinstance(request, Frame)
        loop = asyncio.get_running_loop()
        for delay_s, reply in bench.answers(request):
            loop.call_later(delay_s, device.send, reply.encode(), source)

    device = network.endpoint(receive, *DEVICE)
    yield bench
    gateway.close()
    runner.close()


def test_gateway_retransmission_with_a_late_reply_is_no_finding(bench: Bench) -> None:
    """Attempt 1 is answered after the gateway's 2 s timeout, so after attempt 2 went out; the
    gateway takes that late reply, and the reply to attempt 2 follows. Two attempts, two
    replies: no duplicate, nothing unsolicited."""
    attempts: list[Frame] = []

    def late_first(request: Frame) -> list[tuple[float, Frame]]:
        attempts.append(request)
        delay_s = 2.5 if len(attempts) == 1 else 1.0
        return [(delay_s, reply) for reply in bench.node.handle(request)]

    bench.answer = late_first

    async def scenario() -> dict[int, bytes]:
        value = await bench.gateway.get(DEVICE, BATTERY, [0x80])
        await asyncio.sleep(5)  # the reply to attempt 2 lands
        return value

    assert bench.runner.run(scenario()) == {0x80: b"\x30"}
    assert len(attempts) == 2
    assert bench.gateway.unmatched  # the gateway had moved on when the second reply came
    assert bench.findings == []


def test_gateway_with_a_device_that_answers_twice(bench: Bench) -> None:
    bench.answer = lambda request: [(0.0, r) for r in bench.node.handle(request)] * 2

    assert bench.runner.run(bench.gateway.get(DEVICE, BATTERY, [0xE4])) == {0xE4: b"\x37"}
    assert [f.rule for f in bench.findings] == ["duplicate-response"]


# --------------------------------------------------------------------------- golden simulators


@pytest.fixture(params=["battery", "heatpump", "hybrid"])
def golden(request: pytest.FixtureRequest) -> Iterator[tuple[DeviceUnderTest, ProtocolMonitor]]:
    dut = open_dut(default_profile(request.param))
    gateway = dut.binding.gateway  # type: ignore[attr-defined]
    assert isinstance(gateway, Gateway)
    # The session's own monitor: the one every run has.
    monitor = gateway.observer
    assert isinstance(monitor, ProtocolMonitor)
    yield dut, monitor
    dut.close()


def test_golden_simulator_exchange_draws_no_finding(
    golden: tuple[DeviceUnderTest, ProtocolMonitor],
) -> None:
    dut, monitor = golden
    report = dut.communication_check()
    assert report.discovered and not report.problems
    dut.identity()
    assert dut.appendix_release() == "R"
    if dut.device_class == "battery":
        dut.status()  # type: ignore[attr-defined]
    else:
        dut.heater_status()  # type: ignore[attr-defined]
        dut.dr_possible_wh()  # type: ignore[attr-defined]
    assert monitor.frames > 5  # reads are batched: a few frames carry it all
    assert dut.findings == [], [f.summary for f in dut.findings]
