"""The same suite against an external device in real time: the simulator as its own process over
UDP, its clock running N times faster, and ``drready run --profile ... --time-scale N``.

This is the path a lab takes with hardware, minus the hours: the harness opens a real socket,
discovers the device by unicast, and every wait is real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drready.profile import SIMULATOR_ADDRESS
from tests.helpers import (
    GATEWAY_BATTERY_REQUIREMENTS,
    drready_run,
    loopback_hosts,
    simulator_process,
)

#: Whole suites in real time against a device on UDP: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BUILT_IN = REPO / "drready" / "profile" / "builtin" / "battery.toml"
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


def _profile(
    tmp_path: Path,
    port: int,
    host: str = HOST,
    request_timeout_s: float = 2.0,
    device_class: str = "battery",
) -> Path:
    text = (BUILT_IN.parent / f"{device_class}.toml").read_text(encoding="utf-8")
    # The harness binds UDP 3610 on its local address: one of this test's own, not 127.0.0.1,
    # which another run on this machine may hold.
    (local,) = loopback_hosts(1)
    text = text.replace(
        f'address = "{SIMULATOR_ADDRESS}"', f'address = "{host}"\nlocal_address = "{local}"'
    )
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
    done = drready_run(profile, tmp_path / "run", *options, timeout_s=timeout_s)
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


def test_a_silent_device_fails_communication_quickly_and_the_rest_is_inconclusive(
    tmp_path: Path,
) -> None:
    # Nothing listens at this address: every request times out after its bounded retries.
    # That is a fail of communication (BAT-1.1) and of nothing else: every other requirement
    # could not be judged, and says why and who did not answer.
    profile = _profile(tmp_path, 3610, host="127.0.0.6", request_timeout_s=0.1)
    status, report = _drready_run(tmp_path, profile, timeout_s=120)
    assert status == 1
    verdicts = {r["id"]: r for r in report["requirements"]}
    for rid in GATEWAY_BATTERY_REQUIREMENTS:
        expected = "fail" if rid == "BAT-1.1" else "inconclusive"
        assert verdicts[rid]["verdict"] == expected, (rid, verdicts[rid]["reason"])
        assert "no response from 127.0.0.6:3610" in verdicts[rid]["reason"], rid
        if expected == "inconclusive":
            assert "caused by BAT-1.1" in verdicts[rid]["reason"], rid
    assert report["complete"] is True


#: The heat pump's clock at 3600x: an hour of device time per second.
HEATER_TIME_SCALE = 3600
#: The same-day shift (request 08:00, start 13:00, watched to 16:00) and the quick checks.
HEATER_TESTS = "same_day or identity_readable or discovery or protocol"


@pytest.mark.parametrize(("fault", "failed"), [(None, []), ("hp_heats_early", ["HP-2.3"])])
def test_a_water_heater_in_real_time_on_its_own_clock(
    tmp_path: Path, fault: str | None, failed: list[str]
) -> None:
    # The device's clock starts at 05:00 local time and runs 3600x (the harness's start-up costs
    # an hour or two of it): the harness reads the clock (0x97, 0x98), waits for 08:00 there,
    # asks for 13:00 and watches 8 h of heating plan, in about 10 s.
    options = ["--time-scale", str(HEATER_TIME_SCALE), "--clock", "2027-04-01T05:00"]
    options += ["--fault", fault] if fault else []
    with simulator_process(HOST, options, device_class="heatpump") as simulator:
        profile = _profile(tmp_path, simulator.port, device_class="heatpump")
        # At 3600x one millisecond of scheduling delay on a busy machine is 3.6 s of device
        # time: allow 15 min (250 ms real) instead of the built-in 5 min.
        text = profile.read_text(encoding="utf-8").replace("time_s = 300", "time_s = 900")
        profile.write_text(text, encoding="utf-8")
        status, report = _drready_run(
            tmp_path,
            profile,
            "--time-scale",
            str(HEATER_TIME_SCALE),
            "--",
            "-k",
            HEATER_TESTS,
            timeout_s=120,
        )
    verdicts = {r["id"]: r["verdict"] for r in report["requirements"]}
    reasons = {r["id"]: r["reason"] for r in report["requirements"] if r["verdict"] == "fail"}
    assert [rid for rid, verdict in verdicts.items() if verdict == "fail"] == failed, reasons
    exercised = ("HP-1.1", "HP-2.3", "HP-ID", "HP-3.3")
    for rid in exercised:
        assert verdicts[rid] == ("fail" if rid in failed else "pass"), rid
    assert status == (1 if failed else 0)
    assert report["device_time"]["covered_s"] >= 8 * 3600
