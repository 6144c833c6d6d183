"""Tests for the link faults of the ECHONET Lite reference devices: each breaks the protocol on
the wire in a way the protocol monitor files against *-1.1, while every request still completes.

Includes the regression for error class 2 of issue 11: a device answering one request in five
with a wrong TID had *-1.1 pass (the gateway's retries hid it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from drready.simulators.battery import BATTERY_EOJ, BatteryConfig
from drready.simulators.faults import FAULTS, get_fault
from drready.simulators.link_faults import EVERY_NTH_REPLY
from drready.simulators.runtime import SimulatedBattery

from drready.clock import LoopRunner, VirtualClock
from drready.device import DeviceUnderTest
from drready.echonet.codec import ECHONET_LITE_PORT, ESV, Property
from drready.echonet.gateway import Gateway
from drready.echonet.monitor import FINDINGS_PER_RULE, ProtocolMonitor
from drready.echonet.transport import Address, DatagramEndpoint, DatagramHandler, MemoryNetwork
from drready.evidence import EvidenceLog, Finding
from drready.profile import default_profile
from drready.run.session import open_dut

GATEWAY_ADDRESS: Address = ("127.0.0.1", ECHONET_LITE_PORT)
DEVICE_ADDRESS: Address = ("127.0.0.2", ECHONET_LITE_PORT)

#: Each link fault, its class and the monitor rule it must trip.
LINK_FAULTS = {
    "tid_corrupt_one_in_five": ("battery", "tid-echo"),
    "duplicate_replies": ("battery", "duplicate-response"),
    "malformed_frames": ("battery", "malformed-frame"),
    "wrong_seoj_reply": ("battery", "seoj"),
    "edt_size_violation": ("battery", "edt"),
    "hp_tid_corrupt_one_in_five": ("heatpump", "tid-echo"),
    "hp_duplicate_replies": ("heatpump", "duplicate-response"),
    "hy_tid_corrupt_one_in_five": ("hybrid", "tid-echo"),
    "hy_duplicate_replies": ("hybrid", "duplicate-response"),
}
PREFIX = {"battery": "BAT", "heatpump": "HP", "hybrid": "HY"}


@pytest.mark.parametrize("name", LINK_FAULTS)
def test_link_fault_is_registered_against_its_class_communication_requirement(name: str) -> None:
    device_class, _ = LINK_FAULTS[name]
    fault = get_fault(name)
    assert (fault.device_class, fault.binding) == (device_class, "echonet")
    assert fault.requirements == (f"{PREFIX[device_class]}-1.1",)
    assert fault.description


def test_every_link_fault_is_tested() -> None:
    from drready.simulators import link_faults

    registered = {name for name, f in FAULTS.items() if f.apply.__module__ == link_faults.__name__}
    assert registered == set(LINK_FAULTS)


# --------------------------------------------------------------------------- through the session


@pytest.fixture
def session(request: pytest.FixtureRequest) -> Iterator[tuple[DeviceUnderTest, ProtocolMonitor]]:
    name: str = request.param
    dut = open_dut(default_profile(LINK_FAULTS[name][0]), faults=(name,))
    gateway = dut.binding.gateway  # type: ignore[attr-defined]
    monitor = ProtocolMonitor(dut.findings, mapping=dut.profile.mapping)
    gateway.observer = monitor
    yield dut, monitor
    dut.close()


@pytest.mark.parametrize("session", LINK_FAULTS, indirect=True)
def test_link_fault_is_found_by_the_monitor_and_every_request_completes(
    session: tuple[DeviceUnderTest, ProtocolMonitor], request: pytest.FixtureRequest
) -> None:
    dut, monitor = session
    name = request.node.callspec.params["session"]
    _, rule = LINK_FAULTS[name]
    report = dut.communication_check()
    assert report.discovered
    identity = dut.identity()
    assert identity.serial_number
    if dut.device_class == "battery":
        dut.status()  # type: ignore[attr-defined]
    else:
        dut.heater_status()  # type: ignore[attr-defined]
    if name != "edt_size_violation":
        # The communication check alone sees nothing: only the monitor does.
        assert not report.problems, report.problems
    assert dut.findings, f"{name}: the monitor found nothing"
    assert {f.rule for f in dut.findings} == {rule}, [f.summary for f in dut.findings]
    assert {f.requirement for f in dut.findings} == {"*-1.1"}
    assert all(f.records for f in dut.findings)
    assert monitor.counts[rule] >= len(dut.findings)


@pytest.mark.parametrize("session", ["malformed_frames"], indirect=True)
def test_malformed_frames_reach_the_gateway_beside_the_right_reply(
    session: tuple[DeviceUnderTest, ProtocolMonitor],
) -> None:
    dut, monitor = session
    for _ in range(8):
        dut.status()  # type: ignore[attr-defined]
    gateway = dut.binding.gateway  # type: ignore[attr-defined]
    assert gateway.decode_errors
    assert monitor.counts["malformed-frame"] == len(gateway.decode_errors)


# --------------------------------------------------------------------------- error class 2


@dataclass
class Link:
    runner: LoopRunner
    gateway: Gateway
    evidence: EvidenceLog
    monitor: ProtocolMonitor
    findings: list[Finding]


@pytest.fixture
def corrupt_battery() -> Iterator[Link]:
    """The reference battery with one wrong TID in five, on the in-memory network, and a
    gateway with the monitor in front of it."""
    runner = LoopRunner(VirtualClock())
    network = MemoryNetwork()

    async def open_endpoint(handler: DatagramHandler) -> DatagramEndpoint:
        return network.endpoint(handler, *DEVICE_ADDRESS)

    simulator = SimulatedBattery(
        open_endpoint, BatteryConfig(), faults=("tid_corrupt_one_in_five",)
    )
    evidence = EvidenceLog(runner.clock.now)
    gateway = Gateway(evidence, timeout_s=2.0, retries=2)
    gateway.attach(network.endpoint(gateway.datagram_received, *GATEWAY_ADDRESS))
    findings: list[Finding] = []
    monitor = ProtocolMonitor(findings, device_host=DEVICE_ADDRESS[0])
    gateway.observer = monitor
    runner.run(simulator.start())
    yield Link(runner, gateway, evidence, monitor, findings)
    simulator.check()
    simulator.close()
    gateway.close()
    runner.close()


def test_one_wrong_tid_in_five_fails_communication_while_every_request_completes(
    corrupt_battery: Link,
) -> None:
    """Issue 11, error class 2: the retries complete every request (no EchonetTimeout, so no
    DR requirement can fail for it), and each wrong TID is still a *-1.1 finding."""
    link = corrupt_battery
    requests = 300

    async def drive() -> int:
        done = 0
        for i in range(requests):
            if i % 3 == 0:
                # Operation mode setting 0xDA: standby (0x44) and auto (0x46) in turn.
                mode = b"\x44" if i % 2 else b"\x46"
                reply = await link.gateway.set_c(
                    DEVICE_ADDRESS, BATTERY_EOJ, [Property(0xDA, mode)]
                )
                assert reply.esv == ESV.SET_RES
            else:
                values = await link.gateway.get(DEVICE_ADDRESS, BATTERY_EOJ, [0x80, 0xE4, 0xDA])
                assert set(values) == {0x80, 0xE4, 0xDA}
            done += 1
        return done

    assert link.runner.run(drive()) == requests  # an EchonetTimeout would have been raised
    sent = sum(1 for record in link.evidence if record.kind == "tx")
    retries = sent - requests
    # Every fifth reply is bad; each bad one costs one retransmission, which is answered right.
    assert retries == (requests + retries) // EVERY_NTH_REPLY
    assert retries > 50
    assert len(link.gateway.unmatched) == retries  # the gateway set the bad replies aside
    assert link.monitor.counts == {"tid-echo": retries}
    assert len(link.findings) == FINDINGS_PER_RULE + 1  # the rest counted, not listed
    assert {(f.requirement, f.rule) for f in link.findings} == {("*-1.1", "tid-echo")}
    assert all("expected TID 0x" in f.summary for f in link.findings[:FINDINGS_PER_RULE])
