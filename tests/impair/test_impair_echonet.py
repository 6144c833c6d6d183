"""The impaired ECHONET Lite link: a gateway and a node on a memory network, on virtual time,
with :class:`ImpairedLink` between the gateway and its endpoint. Each impairment is shown doing
what it should (and only that), in both directions, reproducibly for a seed."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
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
    Frame,
    Property,
    decode,
)
from drready.echonet.errors import EchonetTimeout
from drready.echonet.gateway import Gateway
from drready.echonet.impair import FLOOD_SOURCE, ImpairedLink
from drready.echonet.node import Node, ObjectBase
from drready.echonet.transport import Address, MemoryNetwork
from drready.evidence import EvidenceLog, Record
from drready.impairment import EVIDENCE_KIND, Impairment

T = TypeVar("T")

BATTERY = EOJ(0x02, 0x7D, 0x01)
GATEWAY_ADDRESS: Address = ("192.0.2.1", ECHONET_LITE_PORT)
DEVICE_ADDRESS: Address = ("192.0.2.10", ECHONET_LITE_PORT)


class Device:
    """A node with one battery object; it keeps every frame it received."""

    def __init__(self, network: MemoryNetwork) -> None:
        battery = ObjectBase(BATTERY)
        battery.serve(0x80, lambda: b"\x30", announce=True)
        battery.serve(0xE4, lambda: bytes([55]))
        self.node = Node(ObjectBase(NODE_PROFILE), [battery])
        self.received: list[Frame] = []
        self.endpoint = network.endpoint(self._receive, *DEVICE_ADDRESS)

    def _receive(self, data: bytes, source: Address) -> None:
        frame = decode(data)
        assert isinstance(frame, Frame)
        self.received.append(frame)
        for reply in self.node.handle(frame):
            self.endpoint.send(reply.encode(), source)


@dataclass
class Bench:
    runner: LoopRunner
    evidence: EvidenceLog
    gateway: Gateway
    link: ImpairedLink
    device: Device
    delivered: list[tuple[bytes, Address]]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    @property
    def elapsed_s(self) -> float:
        return self.runner.clock.monotonic()

    def impair_records(self) -> list[Record]:
        return [r for r in self.evidence if r.kind == EVIDENCE_KIND]

    def actions(self) -> list[str]:
        return [
            f"{r.values['action']} {r.values['direction']}"
            for r in self.impair_records()
            if r.values["action"] != "settings"
        ]


def open_bench(impairment: Impairment | None, retries: int = 2) -> Bench:
    runner = LoopRunner(VirtualClock())
    network = MemoryNetwork()
    evidence = EvidenceLog(runner.clock.now)
    link = ImpairedLink(impairment, evidence)
    gateway = Gateway(evidence, timeout_s=2.0, retries=link.retries(retries))
    delivered: list[tuple[bytes, Address]] = []

    def received(data: bytes, source: Address) -> None:
        delivered.append((data, source))
        gateway.datagram_received(data, source)

    endpoint = network.endpoint(link.receiver(received), *GATEWAY_ADDRESS)
    gateway.attach(link.endpoint(endpoint))
    return Bench(runner, evidence, gateway, link, Device(network), delivered)


def close_bench(bench: Bench) -> None:
    bench.gateway.close()
    bench.runner.close()


@pytest.fixture
def benches() -> Iterator[list[Bench]]:
    """Benches opened one after another: opening one closes the one before (one virtual clock
    at a time)."""
    opened: list[Bench] = []
    yield opened
    if opened:
        close_bench(opened[-1])


def bench_with(benches: list[Bench], impairment: Impairment | None, retries: int = 2) -> Bench:
    if benches:
        close_bench(benches[-1])
    bench = open_bench(impairment, retries)
    benches.append(bench)
    return bench


async def gets(gateway: Gateway, count: int) -> list[dict[int, bytes]]:
    return [await gateway.get(DEVICE_ADDRESS, BATTERY, [0x80]) for _ in range(count)]


def test_no_impairment_puts_nothing_between(benches: list[Bench]) -> None:
    for impairment in (None, Impairment(seed=5)):
        link = ImpairedLink(impairment, EvidenceLog(lambda: 0.0))
        bench = bench_with(benches, impairment)

        def handler(data: bytes, source: Address) -> None: ...

        assert link.receiver(handler) is handler
        assert not link.active
        assert bench.run(gets(bench.gateway, 3)) == [{0x80: b"\x30"}] * 3
        assert bench.impair_records() == []


def test_loss_drops_both_ways_and_retries_recover(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(loss=0.3, seed=11, adapt_retries=False), retries=8)
    assert bench.run(gets(bench.gateway, 40)) == [{0x80: b"\x30"}] * 40
    actions = bench.actions()
    assert actions.count("drop tx") == bench.link.counts["drop tx"] > 0
    assert actions.count("drop rx") == bench.link.counts["drop rx"] > 0
    assert set(actions) == {"drop tx", "drop rx"}
    # Every drop cost one attempt's timeout of virtual time, nothing else did.
    assert bench.elapsed_s == pytest.approx(2.0 * len(actions))
    sent = [r for r in bench.evidence if r.kind == "tx"]
    # The device got every request but the dropped ones; the gateway, every reply but those.
    assert len(bench.device.received) == len(sent) - actions.count("drop tx")
    assert len(bench.delivered) == len(bench.device.received) - actions.count("drop rx")


def test_a_seed_is_the_same_run_and_another_seed_another(benches: list[Bench]) -> None:
    def trace(seed: int) -> list[tuple[float, str]]:
        bench = bench_with(benches, Impairment(loss=0.2, duplicate=0.1, seed=seed))
        bench.run(gets(bench.gateway, 30))
        return [(r.time, r.summary) for r in bench.impair_records()]

    assert trace(3) == trace(3)
    assert trace(3) != trace(4)


def test_duplicates_reach_both_ends_and_are_explained(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(duplicate=1.0, seed=1))
    assert bench.run(gets(bench.gateway, 3)) == [{0x80: b"\x30"}] * 3
    bench.run(asyncio.sleep(0.01))
    # Each request reached the device twice, each reply reached the gateway twice per request
    # received: 3 requests -> 6 at the device -> 6 replies -> 12 deliveries.
    assert len(bench.device.received) == 6
    assert len(bench.delivered) == 12
    assert bench.actions().count("duplicate tx") == 3
    assert bench.actions().count("duplicate rx") == 6
    # The link accounts for each copy it made, once per copy, and for every reply to a request
    # it sent twice.
    reasons = [bench.link.explains(data, source) or "" for data, source in bench.delivered]
    assert sum(reason.startswith("made by the link") for reason in reasons) == 6
    assert sum("sent twice" in reason for reason in reasons) == 6


def test_delay_and_jitter_hold_each_way_on_the_loops_clock(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(delay_ms=100, seed=2))
    bench.run(gets(bench.gateway, 1))
    assert bench.elapsed_s == pytest.approx(0.2)  # 100 ms there, 100 ms back
    jittery = bench_with(benches, Impairment(delay_ms=100, jitter_ms=50, seed=2))
    started = jittery.elapsed_s
    jittery.run(gets(jittery.gateway, 20))
    round_trip = (jittery.elapsed_s - started) / 20
    assert 0.1 <= round_trip <= 0.3
    assert jittery.impair_records()[0].values["action"] == "settings"


def test_a_delay_past_the_timeout_costs_retries(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(delay_ms=1500, seed=2), retries=0)
    with pytest.raises(EchonetTimeout):
        bench.run(gets(bench.gateway, 1))  # 3 s round trip against a 2 s timeout


def _seed_where(first: bool, second: bool, rate: float) -> int:
    """A seed whose first two reorder draws on the tx side are ``first`` and ``second``."""
    for seed in range(1000):
        dice = Impairment(reorder=rate, seed=seed).link("echonet")
        if (dice.reordered("tx"), dice.reordered("tx")) == (first, second):
            return seed
    raise AssertionError("no such seed")


def test_reordering_lets_a_later_datagram_overtake(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(reorder=0.5, seed=_seed_where(True, False, 0.5)))

    async def two_at_once() -> None:
        # The gateway keeps one request in flight per node; to the group it does not wait, so
        # two multicast requests put two datagrams on the link at once.
        group = (MULTICAST_GROUP, DEVICE_ADDRESS[1])
        first = asyncio.ensure_future(
            bench.gateway.collect(group, BATTERY, ESV.GET, [Property(0x80)], 0.1)
        )
        second = asyncio.ensure_future(
            bench.gateway.collect(group, BATTERY, ESV.GET, [Property(0xE4)], 0.1)
        )
        await asyncio.gather(first, second)

    bench.run(two_at_once())
    epcs = [frame.properties[0].epc for frame in bench.device.received]
    assert epcs == [0xE4, 0x80]
    assert bench.actions() == ["reorder tx"]


def test_tid_corruption_both_ways(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(tid_corrupt=1.0, seed=4, adapt_retries=False), retries=1)
    with pytest.raises(EchonetTimeout):
        bench.run(gets(bench.gateway, 1))
    bench.run(asyncio.sleep(0.01))
    sent = [decode(bytes.fromhex(r.data_hex)) for r in bench.evidence if r.kind == "tx"]
    assert {f.tid for f in sent} == {1}
    # The device saw other TIDs than were sent, and echoed them; the gateway got yet others.
    assert all(frame.tid != 1 for frame in bench.device.received)
    assert len(bench.gateway.unmatched) == 2
    for source, frame in bench.gateway.unmatched:
        assert frame.tid != 1
        assert bench.link.explains(frame.encode(), source) is not None
    assert bench.link.actions_for(1) == ("corrupt tx", "corrupt tx")


def test_tid_corruption_of_requests_explains_the_echoed_reply(benches: list[Bench]) -> None:
    # The device echoes the TID it was given: its reply, as it left the device, is the link's
    # doing too (a monitor may see it so on a link that corrupts one way only).
    bench = bench_with(benches, Impairment(tid_corrupt=1.0, seed=4, adapt_retries=False), retries=0)
    with pytest.raises(EchonetTimeout):
        bench.run(gets(bench.gateway, 1))
    echoed = bench.device.received[0].tid
    assert echoed != 1
    served = (Property(0x80, b"\x30"),)
    reply = Frame(tid=echoed, seoj=BATTERY, deoj=CONTROLLER, esv=ESV.GET_RES, properties=served)
    assert "TID" in (bench.link.explains(reply.encode(), DEVICE_ADDRESS) or "")
    unrelated = Frame(tid=0x7777, seoj=BATTERY, deoj=CONTROLLER, esv=ESV.GET_RES, properties=served)
    assert bench.link.explains(unrelated.encode(), DEVICE_ADDRESS) is None


def test_inf_flood_comes_from_another_node_and_is_explained(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(inf_flood_per_s=2.0, seed=9))
    bench.run(gets(bench.gateway, 1))  # the first send starts the flood
    bench.run(asyncio.sleep(30.0))
    floods = [(source, frame) for source, frame in bench.gateway.notifications]
    assert 30 <= len(floods) <= 90  # a Poisson process at 2/s over 30 s
    assert {source for source, _ in floods} == {FLOOD_SOURCE}
    assert all(frame.esv == ESV.INF and frame.seoj != BATTERY for _, frame in floods)
    for source, frame in floods:
        assert bench.link.explains(frame.encode(), source) is not None
    assert bench.link.counts["flood rx"] == len(floods)
    # Requests to the device are untouched by the flood.
    assert bench.run(gets(bench.gateway, 2)) == [{0x80: b"\x30"}] * 2


def test_closing_stops_the_flood_and_the_link(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(inf_flood_per_s=5.0, delay_ms=50, seed=9))
    bench.run(gets(bench.gateway, 1))
    bench.gateway.close()
    seen = bench.link.counts["flood rx"]
    bench.run(asyncio.sleep(10.0))
    assert bench.link.counts["flood rx"] == seen


def test_retries_are_sized_to_the_loss_and_noted() -> None:
    evidence = EvidenceLog(lambda: 0.0)
    link = ImpairedLink(Impairment(loss=0.05, duplicate=0.01, seed=1), evidence)
    assert link.retries(2) == 5  # 6 attempts: (1 - 0.95**2) ** 6 < 1e-6
    (note,) = [r for r in evidence if r.kind == EVIDENCE_KIND]
    assert "retries raised from 2 to 5" in note.summary
    kept = ImpairedLink(Impairment(loss=0.05, seed=1, adapt_retries=False), evidence)
    assert kept.retries(2) == 2
    assert ImpairedLink(None, evidence).retries(2) == 2


def test_every_action_is_evidence_with_the_datagram(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(loss=0.5, duplicate=0.5, seed=21), retries=9)
    bench.run(gets(bench.gateway, 10))
    records = [r for r in bench.impair_records() if r.values["action"] != "settings"]
    assert records
    for record in records:
        assert record.channel == "echonet"
        assert record.values["direction"] in ("tx", "rx")
        assert decode(bytes.fromhex(record.data_hex))  # the datagram it acted on
        assert record.summary.startswith(f"{record.values['action']} {record.values['direction']}")


def test_a_dropped_request_keeps_its_tx_record_and_a_dropped_reply_has_none(
    benches: list[Bench],
) -> None:
    bench = bench_with(benches, Impairment(loss=0.4, seed=8, adapt_retries=False), retries=9)
    bench.run(gets(bench.gateway, 20))
    sent = [r for r in bench.evidence if r.kind == "tx"]
    received = [r for r in bench.evidence if r.kind == "rx"]
    dropped = [r for r in bench.impair_records() if r.values["action"] == "drop"]
    lost_requests = [r for r in dropped if r.values["direction"] == "tx"]
    lost_replies = [r for r in dropped if r.values["direction"] == "rx"]
    assert lost_requests and lost_replies
    # The gateway recorded every request it sent, the lost ones too; the device answered every
    # one it got; the gateway recorded only the replies the link let through.
    assert {r.data_hex for r in lost_requests} <= {r.data_hex for r in sent}
    assert len(bench.device.received) == len(sent) - len(lost_requests)
    assert len(received) == len(bench.device.received) - len(lost_replies)


def test_a_property_is_never_changed(benches: list[Bench]) -> None:
    bench = bench_with(benches, Impairment(tid_corrupt=0.5, duplicate=0.5, seed=13), retries=9)
    bench.run(gets(bench.gateway, 20))
    for frame in bench.device.received:
        assert frame.properties == (Property(0x80),)
