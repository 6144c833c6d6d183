"""Each water-heater test starts from the device's own state and leaves it there: a plan left
pending is withdrawn or waited out, one that stays makes the next test inconclusive with *-2.2
as the cause (issue 11, class 3); a lost poll is a gap in a series, not a failure, and an energy
judgement across a gap too wide to trust is inconclusive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from drready.suites.water_heater import scenarios

from drready.bindings.types import Capabilities, DrAck, HeaterSample, HeaterStatus
from drready.clock import LoopRunner, VirtualClock
from drready.device import WaterHeaterDUT
from drready.echonet.errors import EchonetTimeout
from drready.errors import Inconclusive
from drready.evidence import EvidenceLog
from drready.model import Topology
from drready.profile import default_profile

JST = timedelta(hours=9)


class FakeHeater:
    """A water-heater binding whose plan, withdrawal and lost polls a test sets."""

    protocol = "test"
    topology = Topology.GATEWAY
    capabilities = Capabilities()
    local_address = None
    server_path = None

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.plan_tod: float | None = None
        self.plan_at: float | None = None  # epoch seconds the plan starts
        self.withdraws = True
        self.lapses = True  # the plan clears at its start time
        self.mode = "auto"
        self.withdrawals = 0
        self.polls = 0
        self.lost_polls: set[int] = set()
        self.accepts = True
        #: When the heat pump heats (at 1300 W), by local hour; the counter follows it.
        self.heats: Callable[[float], bool] = lambda hour: False
        self.energy_wh = 1000.0
        self.last_poll: float | None = None

    def local(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC).replace(tzinfo=None) + JST

    def pend(self, tod_s: float) -> None:
        now = self.local()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        at = midnight + timedelta(seconds=tod_s)
        if at <= now:
            at += timedelta(days=1)
        self.plan_tod = tod_s
        self.plan_at = self.clock.now() + (at - now).total_seconds()

    async def device_time(self) -> datetime:
        return self.local()

    def start_time_step_s(self) -> float:
        return 3600.0

    async def request_start_time(self, tod_s: float) -> DrAck:
        if not self.accepts:
            return DrAck(False, "refused: SETC_SNA")
        self.pend(tod_s)
        return DrAck(True, "Set_Res")

    async def clear_start_time(self) -> DrAck:
        self.withdrawals += 1
        if not self.withdraws:
            return DrAck(False, "refused: SETC_SNA")
        self.plan_tod = self.plan_at = None
        return DrAck(True, "Set_Res")

    async def planned_start(self) -> float | None:
        if self.plan_at is not None and self.lapses and self.clock.now() >= self.plan_at:
            self.plan_tod = self.plan_at = None
        return self.plan_tod

    async def heating_mode(self) -> str | None:
        return self.mode

    async def dr_possible_wh(self) -> float:
        return 3600.0

    async def heater_status(self) -> HeaterStatus:
        self.polls += 1
        if self.polls in self.lost_polls:
            raise EchonetTimeout(0x10, 3, 2.0, "192.0.2.30:3610", "GET 0x84 0x85 0xB2")
        now = self.clock.now()
        local = self.local()
        on = self.heats(local.hour + local.minute / 60)
        if self.last_poll is not None and on:
            self.energy_wh += 1300.0 * (now - self.last_poll) / 3600.0
        self.last_poll = now
        return HeaterStatus(1300.0 if on else 0.0, on, None, self.energy_wh)

    def close(self) -> None:
        """Nothing held."""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[WaterHeaterDUT, FakeHeater]]:
    clock = VirtualClock()
    binding = FakeHeater(clock)
    evidence = EvidenceLog(clock.now, tmp_path / "evidence.jsonl")
    profile = default_profile("heatpump")
    dut = WaterHeaterDUT(LoopRunner(clock), binding, profile, evidence)  # type: ignore[arg-type]
    try:
        yield dut, binding
    finally:
        dut.close()


def notes(dut: WaterHeaterDUT) -> list[str]:
    return [r.summary for r in dut.evidence if r.kind == "note"]


def test_a_pending_plan_is_withdrawn_before_the_test(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.pend(3 * 3600.0)  # the plan an out-of-window acceptance left (class 3)
    scenarios.establish_own_state(dut)
    assert heater.plan_tod is None and heater.withdrawals == 1
    assert dut.time_of_day_s() == 9 * 3600.0  # no wait was needed


def test_a_plan_that_will_not_be_withdrawn_is_waited_out(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.pend(15 * 3600.0)
    heater.withdraws = False
    scenarios.establish_own_state(dut)
    assert heater.plan_tod is None
    # Waited until the plan's start time (15:00) had passed.
    assert 15 * 3600.0 < dut.time_of_day_s() <= 15 * 3600.0 + scenarios.LAPSE_S + 300.0


def test_a_plan_that_stays_makes_the_test_inconclusive_caused_by_2_2(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.pend(3 * 3600.0)
    heater.withdraws = heater.lapses = False
    with pytest.raises(Inconclusive) as raised:
        scenarios.establish_own_state(dut)
    assert raised.value.cause == "HP-2.2"
    assert "03:00" in raised.value.reason


def test_a_device_not_in_automatic_heating_is_left_alone_and_inconclusive(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.mode = "manualNoHeating"
    with pytest.raises(Inconclusive, match="manualNoHeating"):
        scenarios.establish_own_state(dut)
    assert heater.mode == "manualNoHeating"


def test_the_plan_a_test_sets_is_withdrawn_whatever_its_outcome(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    with scenarios.own_state(dut):
        dut.request_start_time(13 * 3600.0)
    assert heater.plan_tod is None
    with pytest.raises(AssertionError), scenarios.own_state(dut):
        dut.request_start_time(14 * 3600.0)
        raise AssertionError("the test's own failure")
    assert heater.plan_tod is None


def test_a_failed_withdrawal_never_changes_the_tests_verdict(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.withdraws = False
    with scenarios.own_state(dut):
        dut.request_start_time(13 * 3600.0)
    assert heater.plan_tod == 13 * 3600.0
    assert any("did not go" in n for n in notes(dut))


def test_a_lost_poll_is_a_gap_and_the_series_goes_on(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.lost_polls = {3, 4}
    samples = dut.sample_heater(600.0, 60.0)
    assert [s.elapsed_s for s in samples] == [0, 60, 240, 300, 360, 420, 480, 540, 600]
    assert all(s.record is not None for s in samples)
    assert sum("lost" in n for n in notes(dut)) == 2


def test_a_single_request_that_fails_on_the_wire_still_raises(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.lost_polls = {1}
    with pytest.raises(EchonetTimeout):
        dut.heater_status()


# -- energy judgements across lost polls ---------------------------------------------------------


def readings(
    power: list[float], *, lost: range = range(0), energy: list[float] | None = None
) -> list[HeaterSample]:
    """One reading a minute from 13:00 (only power, unless ``energy`` is given)."""
    witnesses = ("power",) if energy is None else ("power", "energy")
    return [
        HeaterSample(
            60.0 * i,
            13 * 3600.0 + 60.0 * i,
            HeaterStatus(p, p > 0, None, 0.0 if energy is None else energy[i], witnesses),
            i,
        )
        for i, p in enumerate(power)
        if i not in lost
    ]


def shift(samples: list[HeaterSample], amount_wh: float) -> scenarios.ShiftRun:
    return scenarios.ShiftRun(12 * 3600.0, 13 * 3600.0, 13 * 3600.0, samples, amount_wh)


def test_an_amount_the_readings_contradict_fails(rig: tuple[WaterHeaterDUT, FakeHeater]) -> None:
    dut, _ = rig
    drawn = readings([1300.0] * 61 + [0.0] * 30)  # an hour at 1300 W
    with pytest.raises(AssertionError, match=r"drew 13\d\d Wh"):
        scenarios.check_drawn_is_the_amount(dut, shift(drawn, 2000.0))
    scenarios.check_drawn_is_the_amount(dut, shift(drawn, 1300.0))


def test_an_amount_judged_across_a_gap_too_wide_is_inconclusive(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, _ = rig
    # The polls from 13:10 to 13:49 are lost: the power readings cannot say what happened then.
    gappy = readings([1300.0] * 61 + [0.0] * 30, lost=range(10, 50))
    with pytest.raises(Inconclusive) as raised:
        scenarios.check_drawn_is_the_amount(dut, shift(gappy, 2000.0))
    assert raised.value.cause == "HP-1.1"
    # A sound energy counter bridges the same gap: the amount is judged, and fails.
    counted = readings(
        [1300.0] * 61 + [0.0] * 30,
        lost=range(10, 50),
        energy=[1300.0 * min(i, 60) / 60 for i in range(91)],
    )
    with pytest.raises(AssertionError, match=r"drew 13\d\d Wh"):
        scenarios.check_drawn_is_the_amount(dut, shift(counted, 2000.0))


def test_a_contradiction_only_lost_polls_may_explain_is_inconclusive(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, _ = rig
    # The counter saw 40 minutes of heating the power readings missed: the polls were lost.
    power = [0.0] * 10 + [1300.0] * 40 + [0.0] * 41
    energy = [1300.0 * max(0, min(i, 50) - 10) / 60 for i in range(91)]
    with pytest.raises(Inconclusive) as raised:
        scenarios.check_reporting(
            dut, readings(power, lost=range(9, 51), energy=energy), both_states=False
        )
    assert raised.value.cause == "HP-1.1"
    with pytest.raises(AssertionError, match="energy counter"):
        scenarios.check_reporting(dut, readings([0.0] * 91, energy=energy), both_states=False)


def test_a_refused_request_leaves_the_day_judged_without_a_dr(
    rig: tuple[WaterHeaterDUT, FakeHeater],
) -> None:
    dut, heater = rig
    heater.accepts = False
    heater.heats = lambda hour: hour >= 23 or hour < 1  # the night heating
    with pytest.raises(Inconclusive) as raised:
        scenarios.check_day_with_a_shift(dut)
    assert raised.value.cause == "HP-2.2"
    heater.heats = lambda hour: False  # ...and a day that fails stays a failure
    with pytest.raises(AssertionError, match="never reported heating"):
        scenarios.check_day_with_a_shift(dut)
