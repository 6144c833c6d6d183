"""The independent meter works whatever the device's binding: an ECHONET Lite battery with a
SunSpec meter beside it (the simulated one measures the battery's true power)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drready.profile import load_profile
from drready.run.session import SessionError, open_dut

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "fixtures" / "profiles" / "battery-echonet-meter.toml"
METER_TEST = "test_reported_power_matches_the_independent_meter"


def _run(tmp_path: Path, *fault: str) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    command += ["--profile", str(PROFILE), "--report-dir", str(tmp_path), *fault]
    command += ["--", "-k", "meter or measurements"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))


def _outcomes(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        t["nodeid"].split("::")[-1]: (t["outcome"], t["message"])
        for r in report["requirements"]
        for t in r["tests"]
    }


@pytest.mark.slow
def test_echonet_battery_is_compared_with_the_meter(tmp_path: Path) -> None:
    status, report = _run(tmp_path)
    assert status == 0
    assert report["binding"].startswith("ECHONET Lite")
    assert _outcomes(report)[METER_TEST] == ("passed", "")
    meter_reads = [
        json.loads(line)
        for line in (tmp_path / "evidence.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["channel"] == "modbus"
    ]
    assert meter_reads, "no Modbus exchange with the meter in the evidence"


@pytest.mark.slow
def test_the_meter_catches_power_the_echonet_battery_misreports(tmp_path: Path) -> None:
    status, report = _run(tmp_path, "--fault", "power_sign_inverted")
    assert status != 0
    outcome, message = _outcomes(report)[METER_TEST]
    assert outcome == "failed"
    assert "the independent meter measures" in message


def test_a_simulated_meter_needs_the_simulated_device(tmp_path: Path) -> None:
    text = PROFILE.read_text(encoding="utf-8")
    real = tmp_path / "real.toml"
    real.write_text(
        text.replace('[echonet]\naddress = "simulator"', '[echonet]\naddress = "192.0.2.1"')
    )
    profile = load_profile(real)
    assert not profile.is_simulated
    with pytest.raises(SessionError, match=r"meter\.address = 'simulator'"):
        open_dut(profile)
