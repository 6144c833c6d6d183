"""The ECHONET Lite Web API bindings: the facade over a maker's cloud, the reference device behind
it, in virtual time (the real TLS loopback sockets of the reference cloud under the virtual loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drready.bindings.webapi_transport import CloudRefusal, CommsCut, WebApiTransport
from drready.device import DeviceUnderTest
from drready.echonet.codec import EOJ, NODE_PROFILE, Property
from drready.profile import default_profile
from drready.run.session import open_dut
from drready.webapi.maker import maker_properties, maker_property_name


def _open(device_class: str, *faults: str) -> DeviceUnderTest:
    return open_dut(default_profile(device_class, "webapi"), faults=faults)


@pytest.fixture(scope="module")
def battery() -> Iterator[DeviceUnderTest]:
    dut = _open("battery")
    try:
        yield dut
    finally:
        dut.close()


@pytest.fixture(scope="module")
def hybrid() -> Iterator[DeviceUnderTest]:
    dut = _open("hybrid")
    try:
        yield dut
    finally:
        dut.close()


def _transport(dut: DeviceUnderTest) -> WebApiTransport:
    transport: WebApiTransport = dut.binding.transport  # type: ignore[attr-defined]
    return transport


# -- naming of maker-specific properties ---------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "name"),
    [
        ("dr_duration_s", "drDurationS"),
        ("dr_possible_wh", "drPossibleWh"),
        ("aux_heater_on", "auxHeaterOn"),
        ("planned_start_time_s", "plannedStartTimeS"),
    ],
)
def test_maker_property_names(item: str, name: str) -> None:
    assert maker_property_name(item) == name


def test_items_sharing_an_epc_take_the_first_name() -> None:
    mapping = default_profile("hybrid", "webapi").mapping
    maker = maker_properties(mapping, {0x80, 0x81})
    assert {epc: p.name for epc, p in maker.items()} == {
        0xF1: "drStartTimeS",
        0xF2: "drPossibleWh",
        0xF3: "auxHeaterOn",
    }
    start = maker[0xF1]
    assert start.to_json(start.to_edt(13 * 3600)) == 13 * 3600
    assert start.schema() == {"type": "integer", "minimum": 0, "maximum": 65535 * 60}


# -- the battery through the cloud ---------------------------------------------------------------
def test_battery_binding_is_the_server_topology(battery: DeviceUnderTest) -> None:
    assert (battery.binding.protocol, battery.binding.topology) == (
        "ECHONET Lite Web API",
        "server",
    )
    assert battery.security_probe_kinds() == (
        "no-credentials",
        "wrong-credentials",
        "replayed-request",
        "plain-http-control",
        "rate-limit",
        "identity-unauthenticated",
    )


def test_dr_request_is_one_control_request(battery: DeviceUnderTest) -> None:
    battery.set_own_mode("auto")
    ack = battery.request_power(-1500.0, 600.0)
    assert ack.accepted, ack.detail
    battery.wait(120.0)
    status = battery.status()
    assert status.mode == "discharging"
    assert status.power_w == pytest.approx(-1500.0, abs=100.0)
    assert battery.read_target_w() == pytest.approx(-1500.0)
    battery.wait(600.0)  # the duration ends the DR on the device's own
    assert battery.read_mode() == "auto"
    cloud = battery.simulator.cloud  # type: ignore[union-attr]
    puts = [(name, value) for _id, name, value in cloud.executed]
    assert ("drDurationS", 600) in puts and ("dischargingPower", 1500) in puts


def test_identity_release_and_version(battery: DeviceUnderTest) -> None:
    identity = battery.identity()
    declared = battery.profile.device
    assert identity.serial_number == declared.serial_number
    assert identity.product_code == declared.product_code
    assert identity.manufacturer_code == "FFFFFF"
    assert identity.identification_number is not None
    assert identity.identification_number.startswith("FEFFFFFF")
    assert battery.appendix_release() == "R"
    assert battery.node_version() == "ECHONET_Lite Rel.R"


def test_communication_check_reads_the_cloud(battery: DeviceUnderTest) -> None:
    report = battery.communication_check()
    assert report.discovered and not report.problems, report.problems
    assert 0xF0 in report.get_map and 0xF0 in report.set_map  # the maker's DR duration
    assert 0xDA in report.set_map and 0xD3 not in report.set_map


def test_refusal_reads_as_set_c_sna(battery: DeviceUnderTest) -> None:
    transport = _transport(battery)
    with pytest.raises(CloudRefusal) as refused:
        battery.runner.run(
            transport.set_c(transport.address, transport.eoj, [Property(0xDA, b"\x45")])
        )
    assert refused.value.esv.name == "SETC_SNA"
    assert "400" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(CloudRefusal) as unknown:
        battery.runner.run(transport.get(transport.address, transport.eoj, [0xFE]))
    assert unknown.value.refused_epcs == (0xFE,)
    with pytest.raises(CloudRefusal):  # the Web API has no node profile
        battery.runner.run(transport.get(transport.address, NODE_PROFILE, [0x82]))
    other = EOJ(0x02, 0x7D, 0x02)
    with pytest.raises(CloudRefusal):
        battery.runner.run(transport.get(transport.address, other, [0x80]))


def test_comms_cut_silences_every_call(battery: DeviceUnderTest) -> None:
    cloud = battery.simulator.cloud  # type: ignore[union-attr]
    before = len(battery.evidence)
    with battery.comms_cut():
        for call in (battery.read_mode, battery.status, battery.identity):
            with pytest.raises(CommsCut):
                call()
        battery.structured_data()  # what was received so far; no sweep of the cloud
        with pytest.raises(CommsCut):
            battery.security_probe("no-credentials")
    http = [r for r in battery.evidence.since(before) if r.channel == "http"]
    assert http == [], "the harness called the cloud during a comms cut"
    assert battery.read_mode() in ("auto", "standby")
    cloud.check()


def test_comms_loss_mid_dr_returns_the_device_to_its_own_mode(battery: DeviceUnderTest) -> None:
    battery.set_own_mode("standby")
    assert battery.request_power(1000.0, None).accepted
    battery.wait(60.0)
    assert battery.read_mode() == "charging"
    timeout_s = battery.profile.timings.comms_loss_timeout_s
    with battery.comms_cut():
        battery.wait(timeout_s + 60.0)
    assert battery.read_mode() == "standby"


def test_structured_data_counts_every_document(battery: DeviceUnderTest) -> None:
    battery.status()
    report = battery.structured_data()
    assert report.findings == ()
    assert report.documents["token"] >= 1
    assert report.documents["devices"] >= 1 and report.documents["device"] >= 1
    assert report.documents["properties"] >= 1 and report.documents["property"] >= 1


def test_restart_power_cycles_the_device_behind_the_cloud(battery: DeviceUnderTest) -> None:
    before = battery.identity()
    battery.restart()
    assert battery.identity() == before


# -- water heaters --------------------------------------------------------------------------------
def test_hybrid_items_in_maker_epcs(hybrid: DeviceUnderTest) -> None:
    description: dict[str, Any] = hybrid.runner.run(
        _transport(hybrid).client.description(_transport(hybrid).device_id)
    )
    entries = description["properties"]
    assert entries["drStartTimeS"]["epc"] == "0xF1" and entries["drStartTimeS"]["writable"]
    assert entries["drPossibleWh"]["epc"] == "0xF2" and not entries["drPossibleWh"]["writable"]
    assert entries["auxHeaterOn"]["epc"] == "0xF3"
    assert hybrid.dr_possible_wh() > 0
    status = hybrid.heater_status()
    assert status.aux_on is not None


def test_start_time_inside_accepted_outside_refused(hybrid: DeviceUnderTest) -> None:
    assert hybrid.request_start_time(13 * 3600.0).accepted
    assert hybrid.planned_start() == pytest.approx(13 * 3600.0)
    refused = hybrid.request_start_time(3 * 3600.0)
    assert not refused.accepted and "400" in refused.detail
    assert hybrid.planned_start() == pytest.approx(13 * 3600.0)


def test_heat_pump_start_time_the_web_api_cannot_carry_is_refused() -> None:
    dut = _open("heatpump")
    try:
        assert dut.request_start_time(13 * 3600.0).accepted  # waterHeatingShiftTime1 "at1300"
        refused = dut.request_start_time(3 * 3600.0)  # 0xCA = 3: not a state of the MRA
        assert not refused.accepted and "not sent" in refused.detail
        assert dut.planned_start() == pytest.approx(13 * 3600.0)
    finally:
        dut.close()


# -- a malformed document ------------------------------------------------------------------------
def test_malformed_device_list_is_a_finding_and_nothing_else() -> None:
    dut = _open("battery", "webapi_malformed_documents")
    try:
        assert dut.request_power(1000.0, 300.0).accepted
        dut.status()
        report = dut.structured_data()
        assert [f.where for f in report.findings] == ["GET /elapi/v1/devices"]
        assert any("hasMore" in e for e in report.findings[0].errors)
        assert isinstance(report.findings[0].document, dict)
        notes = [r for r in dut.evidence if r.summary.startswith("schema violation")]
        assert notes and notes[0].values["document"] == report.findings[0].document
        check = dut.communication_check()  # the one operation that needs the list
        assert not check.discovered
        assert any("breaks its schema" in p for p in check.problems)
    finally:
        dut.close()


def test_a_malformed_document_fails_the_operation_in_one_line() -> None:
    from drready.bindings.webapi_transport import CloudDocumentError

    dut = _open("battery")
    try:
        cloud = dut.simulator.cloud  # type: ignore[union-attr]
        cloud.config.malformed_documents = frozenset({"properties"})
        with pytest.raises(CloudDocumentError) as caught:
            dut.status()
        text = str(caught.value)
        assert "\n" not in text and "properties document that breaks its schema" in text
        cloud.config.malformed_documents = frozenset()
        assert dut.status().mode in ("auto", "standby")  # the run goes on
        findings = dut.structured_data().findings
        assert len(findings) == 1 and findings[0].where.startswith("GET /elapi/v1/devices/")
    finally:
        dut.close()
