"""The battery facade's isolation and sampling: a test's starting state is reached and checked
(a release the device ignores is inconclusive, caused by BAT-2.6), what a test changed is given
back, and polls lost on the wire are gaps in a series, not failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from drready.simulators.runtime import SimulatedBattery

from drready.bindings.types import Status
from drready.device import BatteryDUT
from drready.echonet.errors import EchonetTimeout
from drready.errors import Inconclusive
from drready.profile import default_profile
from drready.run.session import open_dut


def _open(*faults: str) -> BatteryDUT:
    dut = open_dut(default_profile("battery"), faults=faults)
    assert isinstance(dut, BatteryDUT)
    return dut


@pytest.fixture
def dut() -> Iterator[BatteryDUT]:
    device = _open()
    yield device
    device.close()


def _simulator(dut: BatteryDUT) -> SimulatedBattery:
    assert isinstance(dut.simulator, SimulatedBattery)
    return dut.simulator


def _lose_every(dut: BatteryDUT, nth: int) -> list[int]:
    """Make every ``nth`` status read fail as retries running out would; the calls so far."""
    real = dut.binding.status
    calls = [0]

    async def status() -> Status:
        calls[0] += 1
        if calls[0] % nth == 0:
            raise EchonetTimeout(None, 3, 2.0, "127.0.0.2", "Get (test)")
        return await real()

    dut.binding.status = status  # type: ignore[method-assign]
    return calls


def _notes(dut: BatteryDUT, text: str) -> list[str]:
    return [r.summary for r in dut.evidence if r.kind == "note" and text in r.summary]


def test_lost_polls_are_gaps_and_the_series_goes_on(dut: BatteryDUT) -> None:
    _lose_every(dut, 3)
    samples = dut.sample(300, 10)
    assert len(samples) == 31 - 10  # 31 ticks, every third lost
    assert len(_notes(dut, "poll lost")) == 10
    # Absolute ticks: the readings that came are where they were due.
    assert all(s.elapsed_s % 10 == pytest.approx(0, abs=1e-6) for s in samples)


def test_a_window_with_every_poll_lost_raises_the_exchange_error(dut: BatteryDUT) -> None:
    _lose_every(dut, 1)
    with pytest.raises(EchonetTimeout):
        dut.sample(60, 10)
    with pytest.raises(EchonetTimeout):
        dut.wait_until(lambda s: True, 60, 10)


def test_wait_until_reads_past_a_lost_poll(dut: BatteryDUT) -> None:
    calls = _lose_every(dut, 2)
    assert dut.request_power(-1000, 3600).accepted
    found = dut.wait_until(lambda s: s.power_w <= -1000, 120, 5)
    assert found is not None and found.record is not None
    assert calls[0] >= 2 and _notes(dut, "poll lost")


def test_a_single_request_lost_on_the_wire_stays_an_exchange_error(dut: BatteryDUT) -> None:
    _lose_every(dut, 1)
    with pytest.raises(EchonetTimeout):
        dut.status()


def test_prepare_releases_a_dr_and_checks_the_own_mode(dut: BatteryDUT) -> None:
    assert dut.request_power(-1500, 3600).accepted
    status = dut.prepare()
    assert status.mode == "auto"
    assert dut.read_mode() == "auto"
    assert _simulator(dut).device.dr is None


def test_a_release_the_device_ignores_is_inconclusive_caused_by_bat_2_6() -> None:
    dut = _open("ignores_release")
    try:
        assert dut.request_power(-1500, 600).accepted
        with pytest.raises(Inconclusive) as raised:
            dut.prepare()
        assert raised.value.cause == "BAT-2.6"
        assert "still reports discharging" in raised.value.reason
        with pytest.raises(Inconclusive):
            dut.prepare()
        # Filed once as a finding against BAT-2.6, with the evidence record that shows it.
        assert [f.requirement for f in dut.findings] == ["BAT-2.6"]
        assert dut.findings[0].records
    finally:
        dut.close()


def test_an_own_mode_that_does_not_take_is_inconclusive_without_a_cause(dut: BatteryDUT) -> None:
    real = dut.binding.release_dr

    async def release_to_standby(own_mode: str) -> None:
        await real("standby")

    dut.binding.release_dr = release_to_standby  # type: ignore[method-assign]
    with pytest.raises(Inconclusive) as raised:
        dut.prepare()
    assert raised.value.cause is None
    assert "does not take" in raised.value.reason


def test_restore_gives_back_the_reserve_and_releases_the_dr(dut: BatteryDUT) -> None:
    dut.prepare()
    dut.set_backup_reserve_pct(35)
    assert dut.request_power(-1500, 3600).accepted
    dut.restore()
    assert dut.status().reserve_pct == 20
    assert dut.read_mode() == "auto"


def test_restore_writes_back_a_reserve_the_device_does_not_report() -> None:
    # The device applies a new reserve but keeps reporting the old one: the write-back must not
    # rely on the report, or the next tests run with a reserve the harness cannot see.
    dut = _open("reserve_change_not_reported")
    try:
        dut.prepare()
        dut.set_backup_reserve_pct(40)
        assert _simulator(dut).device.reserve_pct == 40
        dut.restore()
        assert _simulator(dut).device.reserve_pct == 20
    finally:
        dut.close()


def test_restore_never_raises_and_notes_what_did_not_take() -> None:
    dut = _open("ignores_release")
    try:
        dut.prepare()
        assert dut.request_power(-1500, 600).accepted
        dut.restore()
        assert _notes(dut, "the release did not take")
    finally:
        dut.close()


def test_execution_files_a_disagreement_once_per_test_as_a_bat_2_5_finding() -> None:
    dut = _open("power_reads_stuck")
    try:
        dut.prepare(own_mode="standby")
        assert dut.request_power(-1500, 3600).accepted
        samples = dut.sample(1200)
        judged = dut.execution(samples)
        assert judged.witness == "counters"
        assert judged.net_wh == pytest.approx(-1500 * 1200 / 3600, rel=0.05)
        dut.execution(samples)
        assert [f.requirement for f in dut.findings] == ["BAT-2.5"]
        assert "+8 W" in dut.findings[0].summary and "discharging" in dut.findings[0].summary
    finally:
        dut.close()
