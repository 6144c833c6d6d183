"""The command line: each command, and one-line errors with exit status 2 for user mistakes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from drready.simulators.faults import get_fault

from drready.catalog import for_class
from drready.cli import main
from drready.report.json_report import load_report
from tests.helpers import reaped, simulator_process

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "profiles"


def _drready(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drready.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def test_catalog_lists_every_requirement(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 33
    assert main(["catalog", "--class", "battery", "--lang", "ja"]) == 0
    out = capsys.readouterr().out
    for requirement in for_class("battery"):
        assert requirement.id in out


def test_faults_json_covers_every_battery_requirement(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "--json"]) == 0
    faults = json.loads(capsys.readouterr().out)
    battery = [f for f in faults if f["device_class"] == "battery"]
    assert len(battery) >= 12
    covered = {rid for f in battery for rid in f["requirements"]}
    wanted = {f"BAT-{c}" for c in ("1.1", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "ID")}
    assert wanted <= covered
    assert all(f["description"] for f in faults)


def test_profile_prints_the_effective_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", str(FIXTURES / "battery-lab.toml")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["device"]["class"] == "battery"
    assert document["timings"]["response_s"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", str(FIXTURES / "invalid" / "typo-key.toml")], "typo-key.toml: "),
        (["run", "--fault", "no_such_fault"], "--fault: unknown fault 'no_such_fault'"),
        (["run", "--profile", "nowhere.toml"], "nowhere.toml: "),
        (["run", "--simulate", "battery", "--time-scale", "10"], "echonet.address"),
        (["report", "nowhere"], "nowhere/report.json: no report here"),
        (
            ["run", "--profile", str(FIXTURES / "heatpump-server.toml")],
            "device.topologies: the heatpump is tested over the gateway topology",
        ),
        (
            ["run", "--fault", "slow_ramp", "--fault", "hp_power_stuck"],
            "--fault: slow_ramp is a battery fault and hp_power_stuck is a heatpump fault; "
            "one run tests one device class",
        ),
        (["run", "--simulate", "hybrid", "--fault", "hp_power_stuck"], "a heatpump fault"),
        (["run", "--run-id", "../elsewhere"], "--run-id: expected letters, digits"),
        (["run", "--time-scale", "10"], "echonet.address"),
        (
            ["profile", str(FIXTURES / "battery-lab.toml"), "--class", "hybrid"],
            "give a FILE or --class CLASS",
        ),
        (["simulate", "battery", "--bind", "localhost"], "--bind: expected HOST:PORT"),
        (["simulate", "battery", "--fault", "nope"], "--fault: unknown fault 'nope'"),
        (["simulate", "hybrid", "--fault", "slow_ramp"], "--fault slow_ramp: a battery fault"),
        (["simulate", "hybrid", "--clock", "7:50"], "--clock: expected a local date and time"),
        (["simulate", "battery", "--clock", "2027-04-01T07:50"], "--clock: only the water-heater"),
        (
            ["simulate", "heatpump", "--comms-loss-timeout", "60"],
            "--comms-loss-timeout: only the battery simulator has one",
        ),
    ],
)
def test_user_mistakes_are_one_line_with_status_2(args: list[str], message: str) -> None:
    done = _drready(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("drready: ") and message in lines[0]


def test_profile_prints_a_built_in_profile_of_any_class(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for device_class in ("battery", "heatpump", "hybrid"):
        assert main(["profile", "--class", device_class]) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["device"]["class"] == device_class
    assert main(["profile"]) == 0
    assert json.loads(capsys.readouterr().out)["device"]["class"] == "battery"


@pytest.mark.slow
def test_run_then_report(tmp_path: Path) -> None:
    # One class: one pytest session in the drready process, a single-class report.
    done = _drready(
        "run", "--simulate", "battery", "--report-dir", str(tmp_path / "run"), timeout_s=120
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "BAT-2.2      pass" in done.stdout
    summary = _drready("report", str(tmp_path / "run"))
    assert summary.returncode == 0
    assert "(complete), battery," in summary.stdout and "\nBAT-2.7 " in summary.stdout


@pytest.mark.slow
def test_a_run_takes_the_suites_configuration_wherever_it_starts(tmp_path: Path) -> None:
    """pytest looks for a configuration from the directories on its command line, and a report
    directory that did not exist yet was not one: a run started in a checkout took the
    project's own settings (a per-test timeout of 300 s, another asyncio mode) the first time,
    and none the next. And pytest's own timer reads the real clock."""
    report_dir = tmp_path / "run"
    for _first_then_again in range(2):
        done = _drready("run", "--simulate", "battery", "--report-dir", str(report_dir))
        assert done.returncode == 0, done.stdout[-3000:]
        assert "configfile: suites/run.ini" in done.stdout, done.stdout[:2000]
        assert "\ntimeout: " not in done.stdout, done.stdout[:2000]
        # A test's duration is real seconds (pytest's clock is never the virtual one).
        for requirement in load_report(report_dir / "report.json")["requirements"]:
            for test in requirement["tests"]:
                assert 0 <= test["duration_s"] < 60, test


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "device_class"), [("slow_ramp", "battery"), ("hp_power_stuck", "heatpump")]
)
def test_a_fault_alone_picks_its_class(tmp_path: Path, fault: str, device_class: str) -> None:
    done = _drready("run", "--fault", fault, "--report-dir", str(tmp_path / "run"), timeout_s=120)
    assert done.returncode == 1, done.stdout[-3000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert report["device_class"] == device_class and "parts" not in report
    assert report["faults"] == [fault]
    failed = {r["id"] for r in report["requirements"] if r["verdict"] == "fail"}
    assert failed == set(get_fault(fault).requirements)


@pytest.mark.slow
def test_sigterm_finishes_the_report_as_incomplete(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    with reaped([*command, "--report-dir", str(run_dir)]) as process:
        deadline = time.monotonic() + 30
        while not (run_dir / "report.json").exists():  # its tests are collected
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "KeyboardInterrupt" in out and "Traceback" not in err
    report = load_report(run_dir / "report.json")
    assert report["complete"] is False and report["finished_at"] is not None


def test_simulate_serves_udp_and_stops_cleanly_on_ctrl_c() -> None:
    import asyncio

    from drready.echonet.codec import EOJ
    from drready.echonet.gateway import Gateway
    from drready.echonet.transport import open_udp_endpoint
    from drready.evidence import EvidenceLog

    with simulator_process("127.0.0.1") as simulator:
        port, process = simulator.port, simulator.process

        async def read_power() -> dict[int, bytes]:
            gateway = Gateway(EvidenceLog(lambda: 0.0), timeout_s=2.0, retries=1)
            gateway.attach(await open_udp_endpoint(gateway.datagram_received, "127.0.0.1", 0))
            try:
                return await gateway.get(("127.0.0.1", port), EOJ(0x02, 0x7D, 0x01), [0x80, 0xD3])
            finally:
                gateway.close()

        values = asyncio.run(read_power())
        assert values[0x80] == b"\x30"
        assert len(values[0xD3]) == 4
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "stopped" in out
        assert "Traceback" not in err


@pytest.mark.parametrize(("device_class", "eoj"), [("heatpump", 0x026B01), ("hybrid", 0x02A601)])
def test_simulate_serves_a_water_heater(device_class: str, eoj: int) -> None:
    import asyncio

    from drready.echonet.codec import EOJ
    from drready.echonet.gateway import Gateway
    from drready.echonet.transport import open_udp_endpoint
    from drready.evidence import EvidenceLog

    command = [sys.executable, "-m", "drready.cli", "simulate", device_class]
    with reaped([*command, "--bind", "127.0.0.1:0", "--time-scale", "60"]) as process:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith(f"drready simulate {device_class}: ECHONET Lite node on "), banner
        assert "clock 60x real time" in banner
        port = int(banner.split("udp://127.0.0.1:")[1].split()[0])

        async def read() -> dict[int, bytes]:
            gateway = Gateway(EvidenceLog(lambda: 0.0), timeout_s=2.0, retries=1)
            gateway.attach(await open_udp_endpoint(gateway.datagram_received, "127.0.0.1", 0))
            try:
                instance = EOJ(eoj >> 16, (eoj >> 8) & 0xFF, eoj & 0xFF)
                return await gateway.get(("127.0.0.1", port), instance, [0x80, 0x82])
            finally:
                gateway.close()

        values = asyncio.run(read())
        assert values[0x80] == b"\x30"
        assert values[0x82][2:3] == b"R"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


@pytest.mark.slow
def test_simulating_a_profile_makes_the_simulator_that_device(tmp_path: Path) -> None:
    # The lab profile declares its own maker code and carries the DR duration in minutes at
    # the maker-specific EPC 0xF5: the simulator must honour both, and the harness use them.
    done = _drready(
        "run",
        "--simulate",
        "battery",
        "--profile",
        str(FIXTURES / "battery-lab.toml"),
        "--report-dir",
        str(tmp_path / "run"),
        timeout_s=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    frames = [
        json.loads(line)
        for line in (tmp_path / "run" / "evidence.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    dr_requests = [f for f in frames if f["kind"] == "tx" and f["summary"].startswith("SETC")]
    assert any("[F5=" in f["summary"] for f in dr_requests)
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert report["device"]["identity"]["manufacturer_code"] == "0000FE"


@pytest.mark.slow
def test_a_run_is_sealed_and_verify_names_a_changed_byte(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["run", "--simulate", "battery", "--report-dir", str(run), "--", "-q"]) == 0
    for name in ("manifest.json", "trace.pcapng", "http.har", "measurements.jsonl"):
        assert (run / name).is_file(), name
    assert main(["verify", str(run)]) == 0
    # The declaration written into the run joins the bundle as a file added after the run.
    assert main(["report", str(run), "--format", "html"]) == 0
    assert (run / "declaration.html").is_file()
    assert main(["verify", str(run)]) == 0
    report = run / "report.json"
    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x01
    report.write_bytes(bytes(data))
    assert main(["verify", str(run)]) == 1
    assert main(["verify", str(tmp_path / "nowhere")]) == 2
