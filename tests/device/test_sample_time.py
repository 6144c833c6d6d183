"""A water heater read through periodic reports (OpenADR 3: each read waits for the VEN's next
report) is labelled with when its reading was taken, not when it was asked for."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from drready.bindings.types import HeaterStatus
from drready.clock import LoopRunner, VirtualClock
from drready.device import WaterHeaterDUT
from drready.evidence import EvidenceLog
from drready.profile import default_profile
from tests.device.test_water_heater_isolation import FakeHeater

REPORT_S = 300.0


#: A report is sampled a second before each 5-minute mark and comes in this much later (the
#: VEN reads the device first), so a read asked for as one comes in waits for the next.
TRANSIT_S = 0.8


class ReportedHeater(FakeHeater):
    """Every read gives the first report sampled at or after it was asked for."""

    async def _next_report(self) -> None:
        await asyncio.sleep((-1.0 - self.clock.now()) % REPORT_S)

    async def device_time(self) -> datetime:
        await self._next_report()
        taken = self.local().replace(second=0, microsecond=0)
        await asyncio.sleep(TRANSIT_S)
        return taken

    async def heater_status(self) -> HeaterStatus:
        await self._next_report()
        status = await super().heater_status()
        await asyncio.sleep(TRANSIT_S)
        return status


@pytest.fixture
def dut(tmp_path: Path) -> Iterator[WaterHeaterDUT]:
    clock = VirtualClock()  # 09:00 Japan time
    heater = ReportedHeater(clock)
    heater.heats = lambda hour: hour >= 13
    evidence = EvidenceLog(clock.now, tmp_path / "evidence.jsonl")
    profile = default_profile("heatpump", "openadr3")
    device = WaterHeaterDUT(LoopRunner(clock), heater, profile, evidence)  # type: ignore[arg-type]
    try:
        yield device
    finally:
        device.close()


def test_a_reading_from_the_next_report_is_labelled_with_when_it_was_taken(
    dut: WaterHeaterDUT,
) -> None:
    dut.wait_until_time_of_day(12 * 3600.0)
    samples = dut.sample_heater(2 * 3600.0, REPORT_S)
    first = next(s for s in samples if s.status.heating)
    # Heating from 13:00: the first report to show it was sampled at 13:04:59; its label may be
    # up to a minute early (the clock's resolution), not a report interval.
    taken_s = 13 * 3600.0 + 5 * 60.0 - 1.0
    assert taken_s - 60.0 <= first.tod_s <= taken_s + TRANSIT_S
