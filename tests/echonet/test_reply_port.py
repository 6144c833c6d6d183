"""The reference simulator's reply-port option: a node answering every request to port 3610.

``[echonet] simulator_reply_port = 3610`` makes the built-in simulator send its responses to
port 3610 of the requester, whatever port the request came from (a habit of many stacks, and a
conforming one). The simulated gateway sends from an ephemeral port and listens on 3610 too, so
both habits reach it: fixtures/profiles/battery-reply-3610.toml gives a plain run's verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from drready.simulators.battery import BatteryConfig
from drready.simulators.runtime import SimulatedBattery

from drready.cli.main import main
from drready.clock import LoopRunner, VirtualClock
from drready.echonet.codec import ECHONET_LITE_PORT, EOJ
from drready.echonet.errors import EchonetTimeout
from drready.echonet.gateway import Gateway
from drready.echonet.transport import Address, DatagramHandler, MemoryEndpoint, MemoryNetwork
from drready.errors import ProfileError
from drready.evidence import EvidenceLog
from drready.profile import EchonetSettings, load_profile
from drready.run.session import open_dut
from tests.helpers import GATEWAY_BATTERY_REQUIREMENTS

REPO = Path(__file__).resolve().parents[2]
REPLY_3610 = REPO / "fixtures" / "profiles" / "battery-reply-3610.toml"
BATTERY = EOJ(0x02, 0x7D, 0x01)
DEVICE: Address = ("192.0.2.10", ECHONET_LITE_PORT)
GATEWAY_HOST = "192.0.2.1"


@pytest.fixture
def network() -> Iterator[tuple[LoopRunner, MemoryNetwork, SimulatedBattery]]:
    runner = LoopRunner(VirtualClock())
    network = MemoryNetwork()

    async def open_endpoint(handler: DatagramHandler) -> MemoryEndpoint:
        return network.endpoint(handler, *DEVICE)

    device = SimulatedBattery(open_endpoint, BatteryConfig())
    device.reply_port = ECHONET_LITE_PORT
    runner.run(device.start())
    yield runner, network, device
    device.close()
    runner.close()


def test_the_simulator_answers_to_3610_not_to_the_source_port(
    network: tuple[LoopRunner, MemoryNetwork, SimulatedBattery],
) -> None:
    runner, net, _ = network
    # A gateway on an ephemeral port alone never hears the answer...
    alone = Gateway(EvidenceLog(runner.clock.now), timeout_s=1.0, retries=0)
    alone.attach(net.endpoint(alone.datagram_received, GATEWAY_HOST))
    with pytest.raises(EchonetTimeout):
        runner.run(alone.get(DEVICE, BATTERY, [0x80]))
    alone.close()
    # ... one that also listens on 3610 does, as the simulated session's gateway does.
    both = Gateway(EvidenceLog(runner.clock.now), timeout_s=1.0, retries=0)
    both.attach(
        net.endpoint(both.datagram_received, GATEWAY_HOST),
        net.endpoint(both.datagram_received, GATEWAY_HOST, ECHONET_LITE_PORT),
    )
    assert runner.run(both.get(DEVICE, BATTERY, [0x80])) == {0x80: b"\x30"}
    both.close()


def test_the_profile_setting_reaches_the_simulator() -> None:
    dut = open_dut(load_profile(REPLY_3610).simulated())
    try:
        assert dut.simulator is not None
        assert getattr(dut.simulator, "reply_port", None) == ECHONET_LITE_PORT
        assert dut.read_mode() == "auto"  # answered to 3610, heard by the gateway
        assert dut.local_address is not None
        assert dut.local_address[1] != ECHONET_LITE_PORT  # it sends from an ephemeral port
    finally:
        dut.close()


def test_the_default_is_the_source_port() -> None:
    settings = EchonetSettings(address="simulator")
    assert settings.simulator_reply_port == "source"
    assert settings.reply_port is None
    assert replace(settings, simulator_reply_port=3610).reply_port == ECHONET_LITE_PORT
    assert "local_address" not in settings.to_json()


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"simulator_reply_port": 3611}, "echonet.simulator_reply_port"),
        ({"simulator_reply_port": "dest"}, "echonet.simulator_reply_port"),
        ({"local_address": "bench-pc"}, "echonet.local_address"),
    ],
)
def test_bad_settings_are_refused(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ProfileError) as caught:
        EchonetSettings(address="192.0.2.10", **changes)  # type: ignore[arg-type]
    assert caught.value.key == key


def _verdicts(run_dir: Path, *options: str) -> dict[str, str]:
    assert main(["run", *options, "--report-dir", str(run_dir), "--", "-q"]) == 0
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return {r["id"]: r["verdict"] for r in report["requirements"]}


@pytest.mark.slow
def test_a_golden_run_answering_to_3610_gives_the_plain_verdicts(tmp_path: Path) -> None:
    plain = _verdicts(tmp_path / "plain", "--simulate", "battery")
    to_3610 = _verdicts(tmp_path / "3610", "--profile", str(REPLY_3610))
    assert to_3610 == plain
    for rid in GATEWAY_BATTERY_REQUIREMENTS:
        assert to_3610[rid] == "pass", rid
