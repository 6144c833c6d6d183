"""Each session opens its links through the impairment the profile names: the ECHONET Lite
gateway's socket, the Modbus clients (device and meter), the OpenADR 3 servicer and the Web API
client. What they did is in the evidence, and a link with no impairment is left alone."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from drready.device import DeviceUnderTest
from drready.evidence import Record
from drready.impairment import EVIDENCE_KIND, Impairment
from drready.profile import default_profile
from drready.run.session import open_dut

LOSSY = Impairment(loss=0.2, duplicate=0.1, seed=3)


def _impair_records(dut: DeviceUnderTest) -> list[Record]:
    return [r for r in dut.evidence if r.kind == EVIDENCE_KIND]


def _actions(dut: DeviceUnderTest) -> Counter[tuple[str, str, str]]:
    return Counter(
        (r.channel, r.values["action"], r.values["direction"]) for r in _impair_records(dut)
    )


@pytest.mark.parametrize("binding", ["echonet", "modbus"])
def test_gateway_sessions_impair_their_links(binding: str) -> None:
    profile = replace(default_profile("battery", binding), impair=LOSSY)
    dut = open_dut(profile)
    try:
        for _ in range(20):
            dut.identity()
    finally:
        dut.close()
    channel = "modbus" if binding == "modbus" else "echonet"
    actions = _actions(dut)
    assert actions[(channel, "drop", "tx")] > 0
    assert actions[(channel, "drop", "rx")] > 0
    assert actions[(channel, "duplicate", "tx")] > 0
    settings = [r.summary for r in _impair_records(dut) if r.values["action"] == "settings"]
    assert settings and all("loss 20%, duplicate 10%, seed 3" in s for s in settings)


@pytest.mark.parametrize("binding", ["openadr3", "webapi"])
def test_server_sessions_impair_their_http_link(binding: str) -> None:
    profile = replace(default_profile("battery", binding), impair=LOSSY)
    dut = open_dut(profile)
    try:
        for _ in range(10):
            dut.identity()
    finally:
        dut.close()
    actions = _actions(dut)
    assert {channel for channel, _, _ in actions} == {"http"}
    assert sum(n for (_, action, _), n in actions.items() if action == "drop") > 0


@pytest.mark.parametrize("binding", ["echonet", "modbus", "openadr3", "webapi"])
def test_no_impairment_no_record(binding: str) -> None:
    dut = open_dut(default_profile("battery", binding))
    try:
        dut.identity()
    finally:
        dut.close()
    assert _impair_records(dut) == []
