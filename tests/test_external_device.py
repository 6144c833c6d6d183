"""The same suite against an external device in real time: the simulator as its own process over
UDP, its clock running N times faster, and ``drready run --profile ... --time-scale N``.

This is the path a lab takes with hardware, minus the hours: the harness opens a real socket,
discovers the device by unicast, and every wait is real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drready.profile import SIMULATOR_ADDRESS
from tests.helpers import GATEWAY_BATTERY_REQUIREMENTS, simulator_process

REPO = Path(__file__).resolve().parents[1]
BUILT_IN = REPO / "drready" / "profiles" / "battery.toml"
#: 4.4 h of device time in about 15 s of real time.
TIME_SCALE = 1200
HOST = "127.0.0.4"


@pytest.fixture
def external_device(request: pytest.FixtureRequest) -> Iterator[int]:
    options = ["--time-scale", str(TIME_SCALE)]
    for name in getattr(request, "param", []):
        options += ["--fault", name]
    with simulator_process(HOST, options) as simulator:
        assert f"{TIME_SCALE:g}x real time" in simulator.banner, simulator.banner
        yield simulator.port


def _profile(tmp_path: Path, port: int, host: str = HOST, request_timeout_s: float = 2.0) -> Path:
    text = BUILT_IN.read_text(encoding="utf-8")
    text = text.replace(f'address = "{SIMULATOR_ADDRESS}"', f'address = "{host}"')
    text = text.replace("port = 3610", f"port = {port}")
    text = text.replace("request_timeout_s = 2.0", f"request_timeout_s = {request_timeout_s}")
    # Multicast goes to port 3610 of the group; this device listens elsewhere.
    text = text.replace("multicast_discovery = true", "multicast_discovery = false")
    path = tmp_path / "external.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _drready_run(
    tmp_path: Path, profile: Path, *options: str, timeout_s: float
) -> tuple[int, dict[str, Any]]:
    """``drready run --profile PROFILE [options]``: its exit status and its report."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "drready.cli",
            "run",
            "--profile",
            str(profile),
            "--report-dir",
            str(tmp_path / "run"),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    report: dict[str, Any] = json.loads(
        (tmp_path / "run" / "report.json").read_text(encoding="utf-8")
    )
    return done.returncode, report


def _run(tmp_path: Path, port: int) -> tuple[int, dict[str, str]]:
    status, report = _drready_run(
        tmp_path, _profile(tmp_path, port), "--time-scale", str(TIME_SCALE), timeout_s=240
    )
    assert report["simulated"] is False
    assert report["profile"]["time_scale"] == TIME_SCALE
    return status, {r["id"]: r["verdict"] for r in report["requirements"]}


def test_suite_passes_against_an_external_device_in_real_time(
    tmp_path: Path, external_device: int
) -> None:
    status, verdicts = _run(tmp_path, external_device)
    assert status == 0, verdicts
    for rid in GATEWAY_BATTERY_REQUIREMENTS:
        assert verdicts[rid] == "pass", rid


@pytest.mark.parametrize("external_device", [["ignores_comms_loss"]], indirect=True)
def test_a_fault_is_caught_on_the_real_time_path(tmp_path: Path, external_device: int) -> None:
    status, verdicts = _run(tmp_path, external_device)
    assert status != 0
    assert [rid for rid, verdict in verdicts.items() if verdict == "fail"] == ["BAT-2.7"]


def test_a_silent_device_fails_every_requirement_quickly_and_says_who(tmp_path: Path) -> None:
    # Nothing listens at this address: every request times out after its bounded retries.
    profile = _profile(tmp_path, 3610, host="127.0.0.6", request_timeout_s=0.1)
    status, report = _drready_run(tmp_path, profile, timeout_s=120)
    assert status == 1
    verdicts = {r["id"]: r for r in report["requirements"]}
    for rid in GATEWAY_BATTERY_REQUIREMENTS:
        assert verdicts[rid]["verdict"] == "fail", rid
        assert "no response from 127.0.0.6:3610" in verdicts[rid]["reason"], rid
    assert report["complete"] is True
