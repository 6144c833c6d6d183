"""The harness against an ECHONET Lite stack it did not write: the npm module echonet-lite.

tests/interop/node/device.js is a store-only storage battery on that stack: it answers to UDP
port 3610 of the requester (from port 23610 of its own), keeps every value written to it and
never moves its power. Against it the gateway must discover the node (by multicast and by
unicast), read its property maps and identity, and hear its INF on the group; a whole
``drready run --profile ... --time-scale N`` must judge *-1.1 and *-ID from what it read and fail
the physical requirements.

Everything stays on loopback: the device binds 127.x.y.z:3610 and :23610 only and joins the
group on the loopback interface (device.js refuses anything else), as does the harness.

Needs Node.js and ``npm ci --prefix tests/interop/node`` (which .ci/run does).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drready.bindings.echonet_battery import EchonetBatteryBinding
from drready.echonet.codec import ECHONET_LITE_PORT, EOJ, ESV, MULTICAST_GROUP, Frame
from drready.echonet.gateway import DiscoveredNode, Gateway
from drready.echonet.transport import open_controller_endpoints
from drready.evidence import EvidenceLog
from tests.helpers import announced, drready_run, loopback_hosts

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "interop" / "node"
PROFILE = REPO / "fixtures" / "profiles" / "battery-npm-store-only.toml"
BATTERY = EOJ(0x02, 0x7D, 0x01)
GROUP = (MULTICAST_GROUP, ECHONET_LITE_PORT)
#: The device's clock does not exist (it never acts on time); the harness's waits shrink by
#: this much: 4.4 h of scenario in about 25 s.
TIME_SCALE = 1200
#: The physical requirements: a device that never moves its power passes none of them.
PHYSICAL = ("BAT-2.2", "BAT-2.3", "BAT-2.4", "BAT-2.5", "BAT-2.6", "BAT-2.7")

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js (node) is not installed")


@dataclass(frozen=True)
class NpmDevice:
    host: str
    local: str
    banner: str

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, ECHONET_LITE_PORT)


@contextmanager
def npm_device(host: str, local: str) -> Iterator[NpmDevice]:
    """``node device.js HOST`` until the block ends (SIGINT, then killed after 10 s)."""
    assert NODE is not None
    if not (NODE_DIR / "node_modules" / "echonet-lite").is_dir():
        pytest.fail(f"the npm device is not installed: run npm ci --prefix {NODE_DIR}")
    with announced([NODE, str(NODE_DIR / "device.js"), host], "device.js") as (process, banner):
        assert process.stderr is not None
        assert f"udp://{host}:3610" in banner, banner + process.stderr.read()
        yield NpmDevice(host, local, banner)


@pytest.fixture
def device() -> Iterator[NpmDevice]:
    local, host = loopback_hosts(2)
    with npm_device(host, local) as started:
        yield started


# --------------------------------------------------------------------------- the gateway


async def test_the_gateway_talks_to_the_npm_stack(device: NpmDevice) -> None:
    arrivals = Arrivals()
    gateway = Gateway(EvidenceLog(time.time), timeout_s=1.0, retries=2, observer=arrivals)
    unicast, group = await open_controller_endpoints(gateway.datagram_received, device.local)
    assert group is not None
    gateway.attach(unicast, group)
    binding = EchonetBatteryBinding(gateway, device.address, discovery_address=GROUP)
    try:
        # Multicast and unicast discovery: the stack answers to 3610, from its port 23610.
        nodes = await gateway.discover(GROUP, window_s=0.5)
        found = [n for n in nodes if n.address[0] == device.host]
        assert found == [DiscoveredNode((device.host, 23610), (BATTERY,))]
        assert await gateway.discover(device.address, window_s=0.5) == found
        # Its maps, every property of its Get map read and decoded, its identity.
        report = await binding.communication_check()
        assert report.discovered and report.problems == (), report
        assert {0xDA, 0xEB, 0xEC, 0xF0, 0xA7} <= set(report.set_map)
        identity = await binding.identity()
        assert (identity.manufacturer_code, identity.product_code) == ("FFFFFE", "NPM-STORE")
        # It keeps what it is told (and says so in an INF to the group), but never moves.
        assert (await binding.request_power(-1500, 3600)).accepted
        assert await binding.read_target_w() == -1500
        status = await binding.status()
        assert (status.mode, status.actual_mode) == ("discharging", "discharging")
        assert status.power_w == 0

        def mode_announced() -> bool:
            return any(
                source[0] == device.host and frame.esv == ESV.INF and frame.property(0xDA)
                for source, frame in gateway.notifications
            )

        await asyncio.wait_for(arrivals.until(mode_announced), 5.0)
        assert not gateway.unmatched and not gateway.decode_errors
    finally:
        gateway.close()


class Arrivals:
    """A FrameObserver that wakes a waiting test at each datagram the gateway receives."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()

    def sent(self, frame: Frame, destination: tuple[str, int], record: int) -> None:
        """Nothing to wake for."""

    def received(self, data: bytes, source: tuple[str, int], record: int) -> None:
        self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self.changed.clear()
            await self.changed.wait()


# --------------------------------------------------------------------------- a whole run


@pytest.fixture(scope="module")
def store_only_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``drready run --profile P --time-scale N`` against the npm device: its report."""
    if NODE is None:
        pytest.skip("Node.js (node) is not installed")
    tmp = tmp_path_factory.mktemp("npm-run")
    local, host = loopback_hosts(2)
    text = PROFILE.read_text(encoding="utf-8")
    text = text.replace('address = "127.0.0.2"', f'address = "{host}"')
    text = text.replace('local_address = "127.0.0.1"', f'local_address = "{local}"')
    profile = tmp / "npm.toml"
    profile.write_text(text, encoding="utf-8")
    with npm_device(host, local):
        started = time.monotonic()
        done = drready_run(profile, tmp / "run", "--time-scale", str(TIME_SCALE), timeout_s=120)
        elapsed_s = time.monotonic() - started
    report: dict[str, Any] = json.loads((tmp / "run" / "report.json").read_text(encoding="utf-8"))
    report["_test"] = {"exit": done.returncode, "elapsed_s": elapsed_s, "host": host}
    report["_test"]["evidence"] = (tmp / "run" / "evidence.jsonl").read_text(encoding="utf-8")
    return report


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in report["requirements"]}


@pytest.mark.slow
def test_a_run_discovers_it_and_judges_what_it_read(store_only_run: dict[str, Any]) -> None:
    report = store_only_run
    assert report["simulated"] is False and report["complete"] is True
    assert report["_test"]["elapsed_s"] < 120
    verdicts = _verdicts(report)
    # *-1.1 and *-ID have a verdict from what the device served.
    assert verdicts["BAT-1.1"] in ("pass", "fail")
    assert verdicts["BAT-ID"] in ("pass", "fail")
    host = report["_test"]["host"]
    replies = [
        json.loads(line)
        for line in report["_test"]["evidence"].splitlines()
        if f'"peer":"{host}:' in line and '"kind":"rx"' in line
    ]
    summaries = " ".join(r["summary"] for r in replies)
    assert "GET_RES 0x0EF001->0x05FF01" in summaries and "[D6=01027D01]" in summaries
    assert "9F=" in summaries and "8C=" in summaries  # its maps and identity were read
    assert report["_test"]["exit"] != 0


@pytest.mark.slow
def test_a_store_only_device_fails_bat_2_2_and_2_5(store_only_run: dict[str, Any]) -> None:
    verdicts = _verdicts(store_only_run)
    assert verdicts["BAT-2.2"] == "fail"
    assert verdicts["BAT-2.5"] == "fail"


@pytest.mark.slow
def test_a_store_only_device_passes_nothing_physical(store_only_run: dict[str, Any]) -> None:
    verdicts = _verdicts(store_only_run)
    passed = [rid for rid in PHYSICAL if verdicts[rid] == "pass"]
    assert passed == [], passed
