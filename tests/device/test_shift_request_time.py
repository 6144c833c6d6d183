"""*-2.3 reckons the DR start's place on the samples' clock from the request, timed by the
device's clock read at the request, not by the target of the wait before it.

A wait ends up to ``LATE_S`` past its target: over OpenADR 3 every read of the device's clock
waits for the VEN's next telemetry report (5 minutes apart), so a seeded start whose phase put
the reports just before the harness's reads made the request up to 5 minutes later than the
wait's target, and a heat pump heating exactly at its DR start looked 5 minutes early (seed 1 of
``drready run --simulate heatpump --profile drready/profile/builtin/heatpump-openadr3.toml``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from drready.suites.water_heater import scenarios

from drready.clock import LoopRunner, VirtualClock
from drready.device import WaterHeaterDUT
from drready.evidence import EvidenceLog
from drready.profile import default_profile
from tests.device.test_water_heater_isolation import FakeHeater

#: The stand-in's reports: every 5 minutes, each a second before the minute the harness's
#: clock-based waits aim at (the worst phase: a read just after a report waits for the next).
REPORT_S = 300.0
REPORT_PHASE_S = -1.0
#: Tighter than the built-in 5 minutes, so that a request timed a report interval wrong shows.
TOLERANCE_S = 120.0


class ReportedClockHeater(FakeHeater):
    """A heater whose clock is known only from periodic reports, as over OpenADR 3: a read
    waits for the next report and gives the time it was sampled, in whole minutes."""

    async def device_time(self) -> datetime:
        now = self.clock.now()
        wait_s = (REPORT_PHASE_S - now) % REPORT_S
        await asyncio.sleep(wait_s)
        return self.local().replace(second=0, microsecond=0)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[WaterHeaterDUT, ReportedClockHeater]]:
    clock = VirtualClock()  # 09:00 Japan time
    heater = ReportedClockHeater(clock)
    evidence = EvidenceLog(clock.now, tmp_path / "evidence.jsonl")
    profile = default_profile("heatpump")
    profile = replace(profile, tolerances=replace(profile.tolerances, time_s=TOLERANCE_S))
    dut = WaterHeaterDUT(LoopRunner(clock), heater, profile, evidence)  # type: ignore[arg-type]
    try:
        yield dut, heater
    finally:
        dut.close()


def test_a_shift_started_on_time_passes_when_the_wait_before_the_request_ends_late(
    rig: tuple[WaterHeaterDUT, ReportedClockHeater],
) -> None:
    dut, heater = rig
    heater.heats = lambda hour: 13 <= hour < 15  # exactly from the DR start, 13:00
    run = scenarios.run_shift(dut, 12 * 3600.0, 13 * 3600.0)
    scenarios.check_shift(dut, run)
    # The wait for 12:00 ended at the report after it: the request went at 12:04:59.
    assert run.requested_at == 12 * 3600.0 + 4 * 60.0


def test_a_shift_started_late_still_fails(
    rig: tuple[WaterHeaterDUT, ReportedClockHeater],
) -> None:
    dut, heater = rig
    heater.heats = lambda hour: 13.1 <= hour < 15  # 6 minutes after the DR start
    run = scenarios.run_shift(dut, 12 * 3600.0, 13 * 3600.0)
    with pytest.raises(AssertionError, match="did not start at the DR start time"):
        scenarios.check_shift(dut, run)
