"""The reference VEN (drready.simulators.ven) against the harness's servicer, through the OpenADR 3
binding of the DUT facade, on virtual time: DR events executed and ended, request status,
telemetry, comms loss, and every security probe against the secure VEN and its faulty twin."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drready.bindings.openadr_device import OpenAdrDeviceBinding
from drready.device import DeviceUnderTest
from drready.openadr import vocab
from drready.profile import load_profile
from drready.run.session import open_dut

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "drready" / "profile" / "builtin"


@contextmanager
def simulated(device_class: str, *faults: str) -> Iterator[DeviceUnderTest]:
    profile = load_profile(PROFILES / f"{device_class}-openadr3.toml").simulated()
    dut = open_dut(profile, faults=faults)
    try:
        yield dut
    finally:
        dut.close()


def binding_of(dut: DeviceUnderTest) -> OpenAdrDeviceBinding:
    assert isinstance(dut.binding, OpenAdrDeviceBinding)
    return dut.binding


def test_a_dr_event_is_executed_answered_and_ended_on_time() -> None:
    with simulated("battery") as dut:
        assert dut.read_mode() == "auto"
        ack = dut.request_power(1500, 600)
        assert ack.accepted, ack.detail
        assert dut.read_mode() == "charging"
        assert dut.read_target_w() == 1500
        dut.wait(500)
        assert dut.read_mode() == "charging"
        assert dut.status().power_w > 0
        dut.wait(120)
        assert dut.read_mode() == "auto", "the VEN ends the DR at the event's end"
        ven = dut.simulator.ven  # type: ignore[union-attr]
        assert any("ended" in line for line in ven.log)


def test_deleting_the_event_ends_the_dr_and_a_new_event_replaces_the_old() -> None:
    with simulated("battery") as dut:
        assert dut.request_power(1000, None).accepted
        assert dut.request_power(-800, None).accepted
        assert (dut.read_mode(), dut.read_target_w()) == ("discharging", -800)
        dut.set_own_mode("auto")
        assert dut.read_mode() == "auto"
        with pytest.raises(Exception, match="cannot choose the device's own mode"):
            dut.set_own_mode("charging")


def test_backup_reserve_event_is_a_setting() -> None:
    with simulated("battery") as dut:
        dut.set_backup_reserve_pct(35)
        assert dut.status().reserve_pct == 35


def test_a_start_time_outside_the_window_is_refused_with_the_devices_reason() -> None:
    with simulated("heatpump") as dut:
        ack = dut.request_start_time(3 * 3600)
        assert not ack.accepted
        assert ack.detail.startswith("refused: ") and len(ack.detail) > len("refused: ")
        ok = dut.request_start_time(13 * 3600)
        assert ok.accepted, ok.detail
        assert dut.planned_start() == 13 * 3600
        assert dut.start_time_step_s == 3600


def test_telemetry_identity_and_structured_data() -> None:
    with simulated("hybrid") as dut:
        status = dut.heater_status()
        assert status.aux_on is not None and status.energy_wh >= 0
        assert dut.device_time().year >= 2027
        identity = dut.identity()
        assert identity.serial_number == "SIM0000201"
        assert identity.manufacturer_code == "FFFFFF"
        assert dut.node_version() and dut.appendix_release() == "R"
        report = dut.structured_data()
        assert report.documents["report"] > 0 and report.documents["poll"] > 0
        assert report.documents["ven"] >= 1
        assert not report.findings


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["silent", "503", "reset"])
def test_comms_loss_returns_the_device_to_its_own_mode(mode: str) -> None:
    with simulated("battery") as dut:
        binding_of(dut).comms_loss_mode = mode  # type: ignore[assignment]
        assert dut.request_power(1500, None).accepted
        timeout = dut.profile.timings.comms_loss_timeout_s
        with dut.comms_cut():
            dut.wait(timeout - 60)
        assert dut.read_mode() == "charging", "a shorter cut leaves the DR in force"
        with dut.comms_cut():
            dut.wait(timeout + 60)
        assert dut.read_mode() == "auto"


@pytest.mark.slow
def test_keeps_dr_on_comms_loss_fault() -> None:
    with simulated("battery", "oadr_keeps_dr_on_comms_loss") as dut:
        assert dut.request_power(1500, None).accepted
        with dut.comms_cut():
            dut.wait(dut.profile.timings.comms_loss_timeout_s + 60)
        assert dut.read_mode() == "charging"


def test_invalid_documents_become_findings() -> None:
    with simulated("battery", "oadr_invalid_documents") as dut:
        dut.sample(120)
        report = dut.structured_data()
        assert report.findings
        finding = report.findings[0]
        assert finding.where == "POST /reports"
        assert any("is not of type 'number'" in e for e in finding.errors)


#: Each probe, and the fault that makes the reference VEN accept it.
PROBE_FAULTS = [
    ("plain-http", "oadr_falls_back_to_http"),
    ("tls-1.1", "oadr_accepts_tls_1_1"),
    ("untrusted-ca", "oadr_accepts_any_certificate"),
    ("wrong-host", "oadr_accepts_any_certificate"),
    ("redirect", "oadr_follows_redirect"),
    ("replayed-event", "oadr_executes_replayed_event"),
    ("tampered-event", "oadr_executes_tampered_event"),
    ("missing-credentials", "oadr_omits_credentials"),
]


def test_the_secure_ven_refuses_every_probe() -> None:
    with simulated("battery") as dut:
        kinds = dut.security_probe_kinds()
        assert set(kinds) == {kind for kind, _ in PROBE_FAULTS}
        for kind in kinds:
            result = dut.security_probe(kind)
            assert result.refused, f"{kind}: {result.detail}"
            assert result.detail
        # The VEN is back to normal: polling, reporting, executing.
        assert dut.request_power(500, 60).accepted


@pytest.mark.parametrize(("kind", "fault"), PROBE_FAULTS)
def test_each_insecure_switch_is_caught_by_its_probe(kind: str, fault: str) -> None:
    with simulated("battery", fault) as dut:
        result = dut.security_probe(kind)
        assert not result.refused, result.detail
        assert dut.read_mode() == "auto", "the probe cleans up after itself"


@pytest.mark.parametrize(
    ("device_class", "kind", "fault"),
    [
        ("heatpump", "wrong-host", "hp_oadr_no_host_name_check"),
        ("heatpump", "replayed-event", "hp_oadr_executes_replayed_event"),
        ("hybrid", "redirect", "hy_oadr_follows_redirect"),
        ("hybrid", "tampered-event", "hy_oadr_executes_tampered_event"),
    ],
)
def test_water_heater_probes(device_class: str, kind: str, fault: str) -> None:
    with simulated(device_class) as dut:
        assert dut.security_probe(kind).refused
    with simulated(device_class, fault) as dut:
        assert not dut.security_probe(kind).refused


def test_vocabulary_units_are_the_specifications() -> None:
    assert set(vocab.UNITS.values()) <= {"KW", "KWH", "PERCENT"}


@pytest.mark.slow
def test_drready_run_battery_over_openadr3_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "drready.cli",
            "run",
            "--simulate",
            "battery",
            "--profile",
            str(PROFILES / "battery-openadr3.toml"),
            "--report-dir",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_an_external_ven_that_never_comes_is_a_session_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import socket

    from drready.run import session_openadr
    from drready.run.session import SessionError

    monkeypatch.setattr(session_openadr, "EXTERNAL_REGISTRATION_S", 0.3)
    base = load_profile(PROFILES / "battery-openadr3.toml")
    assert base.openadr3 is not None
    external = dataclasses.replace(base.openadr3, ven="external", poll_interval_s=0.1)
    profile = dataclasses.replace(base, openadr3=external)
    with pytest.raises(SessionError, match="no VEN as client 'drready-ven' at https://"):
        open_dut(profile, evidence_path=tmp_path / "run" / "evidence.jsonl")
    assert (tmp_path / "run" / session_openadr.CA_FILE_NAME).read_text().startswith("-----BEGIN")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = dataclasses.replace(profile, openadr3=dataclasses.replace(external, port=port))
        with pytest.raises(SessionError, match=rf"cannot serve on 127.0.0.1:{port}"):
            open_dut(busy, evidence_path=tmp_path / "busy" / "evidence.jsonl")
