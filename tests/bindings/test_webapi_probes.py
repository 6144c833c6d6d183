"""The server-side security probes of the ECHONET Lite Web API binding, both ways: the reference
maker cloud as it is (every probe refused, nothing executed) and with each insecurity switched on
by its named fault (that probe accepted, and the session still usable after it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from drready.simulators.faults import FAULTS

from drready.bindings.webapi_probes import PROBE_KINDS, plain_http_urls
from drready.device import DeviceUnderTest
from drready.evidence.redact import find_secrets
from drready.profile import default_profile
from drready.run.session import open_dut


def _open(device_class: str, *faults: str) -> DeviceUnderTest:
    return open_dut(default_profile(device_class, "webapi"), faults=faults)


@pytest.fixture(scope="module")
def secure() -> Iterator[DeviceUnderTest]:
    dut = _open("battery")
    try:
        yield dut
    finally:
        dut.close()


@pytest.mark.parametrize("kind", PROBE_KINDS)
def test_the_secure_cloud_refuses(secure: DeviceUnderTest, kind: str) -> None:
    reserve = secure.status().reserve_pct
    result = secure.security_probe(kind)
    assert result.refused, result.detail
    assert result.kind == kind and "\n" not in result.detail
    assert find_secrets(result.detail) == [], "a probe's detail reads like a credential"
    assert secure.status().reserve_pct == reserve, "a refused probe changed the device"
    cloud = secure.simulator.cloud  # type: ignore[union-attr]
    cloud.check()


def test_probe_answers_count_as_documents(secure: DeviceUnderTest) -> None:
    secure.security_probe("no-credentials")
    report = secure.structured_data()
    assert report.documents["error"] >= 1 and report.findings == ()


def test_rate_limit_lockout_is_waited_out(secure: DeviceUnderTest) -> None:
    started = secure.elapsed_s()
    result = secure.security_probe("rate-limit")
    assert result.refused, result.detail
    cloud = secure.simulator.cloud  # type: ignore[union-attr]
    assert secure.elapsed_s() - started >= cloud.config.lockout_s
    assert "served again" in result.detail
    assert secure.read_mode() in ("auto", "standby")  # the harness's session is served


#: fault -> the probes it must turn into "accepted".
ACCEPTED = {
    "webapi_control_without_auth": {"no-credentials", "wrong-credentials"},
    "webapi_any_credentials": {"wrong-credentials", "rate-limit"},
    "webapi_replay_accepted": {"replayed-request"},
    "webapi_plain_http": {"plain-http-control"},
    "webapi_no_rate_limit": {"rate-limit"},
    "webapi_identity_public": {"identity-unauthenticated"},
}


@pytest.mark.parametrize("fault", sorted(ACCEPTED))
def test_each_insecurity_is_caught_by_its_probe(fault: str) -> None:
    dut = _open("battery", fault)
    try:
        reserve = dut.status().reserve_pct
        outcomes = {kind: dut.security_probe(kind) for kind in PROBE_KINDS}
        accepted = {kind for kind, result in outcomes.items() if not result.refused}
        assert accepted == ACCEPTED[fault], {k: r.detail for k, r in outcomes.items()}
        # What an accepted probe executed was put back: the session goes on as before.
        assert dut.status().reserve_pct == reserve
    finally:
        dut.close()


def test_executed_control_is_reported_and_undone() -> None:
    dut = _open("heatpump", "hp_webapi_control_without_auth")
    try:
        result = dut.security_probe("no-credentials")
        assert not result.refused
        assert "installationLocation changed to '0x08': executed" in result.detail
        assert "put back to '0x00'" in result.detail
    finally:
        dut.close()


def test_every_webapi_fault_names_the_shape() -> None:
    names = [name for name, f in FAULTS.items() if f.binding == "webapi"]
    assert {FAULTS[n].device_class for n in names} == {"battery", "heatpump", "hybrid"}
    for name in names:
        prefix = {"battery": "webapi_", "heatpump": "hp_webapi_", "hybrid": "hy_webapi_"}
        assert name.startswith(prefix[FAULTS[name].device_class])


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.maker.example", ["http://api.maker.example"]),
        (
            "https://api.maker.example:8443/v2",
            ["http://api.maker.example:8443/v2", "http://api.maker.example/v2"],
        ),
        ("https://[::1]:9443", ["http://[::1]:9443", "http://[::1]"]),
    ],
)
def test_plain_http_urls_come_from_the_base_url(base_url: str, expected: list[str]) -> None:
    assert plain_http_urls(base_url) == expected
