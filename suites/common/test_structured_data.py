"""*-1.2: the device (or its maker's server) talks to the DR servicer side in a structured data
format. Every document it sent on the server path so far is checked against the binding's JSON
Schema; a malformed one is a finding, with the document in the evidence."""

from __future__ import annotations

import pytest

from drready.device import BatteryDUT, DeviceUnderTest, WaterHeaterDUT
from drready.model import Topology

#: Findings quoted in a failure message (all are in the evidence).
QUOTED = 3


@pytest.mark.requirement("*-1.2")
@pytest.mark.topology(Topology.SERVER)
def test_documents_follow_the_schema(dut: DeviceUnderTest) -> None:
    # Let documents flow for a few poll intervals, whatever ran before this test.
    window = 3 * dut.profile.timings.poll_interval_s
    if isinstance(dut, BatteryDUT):
        dut.sample(window)
    elif isinstance(dut, WaterHeaterDUT):
        dut.sample_heater(window)
    report = dut.structured_data()
    total = sum(report.documents.values())
    assert total > 0, (
        f"no structured document from the device on the {dut.binding.protocol} path "
        f"({dict(report.documents)})"
    )
    if report.findings:
        quoted = "; ".join(
            f"{f.where}: {', '.join(f.errors[:2])}" for f in report.findings[:QUOTED]
        )
        pytest.fail(
            f"{len(report.findings)} of {total} documents broke the schema, e.g. {quoted}",
            pytrace=False,
        )
