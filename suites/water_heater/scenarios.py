"""The water-heater checks, shared by the heat-pump (HP-) and hybrid (HY-) suites.

The suites' test functions carry the requirement markers and call these; nothing here speaks bytes.
Times are seconds after the device's local midnight ("time of day"), on the device's own clock.
Harness readings (REQUIREMENTS.md, printed in the catalog):
- *-2.1: the DR-possible amount for the evaluation day's start time, over the declared daily
  heating energy, is ≥ 0.5 and equals the published share within the energy tolerance.
- *-2.2: start times inside a published acceptance window are accepted and become the plan;
  start times outside are refused and leave the plan as it was.
- *-2.3: the reported plan moves to the requested time; between the request and the start time the
  heat pump draws heating power only inside its declared night-heating period; heating (power
  draw) starts at the start time ± the time tolerance.
- *-2.4: while the device says it heats, power is near the rated heating power; while it does not,
  near zero; both states are seen over a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest

from drready.bindings.types import HeaterSample
from drready.device import DAY_S, WaterHeaterDUT
from drready.profile import WaterHeaterSpec
from drready.timeofday import in_period, tod_text

#: Below this share of the rated power the heat pump counts as not heating (it idles near 0 W).
HEATING_FRACTION = 0.5
#: How long after the start time a DR heating is watched for (device seconds).
WATCH_AFTER_START_S = 3 * 3600.0
#: A DR start time is requested at least this long ahead, so "not before" has room to be seen.
LEAD_S = 2 * 3600.0
#: Start times are tried on a grid of at least 30 minutes (DRready: 30-minute slots).
GRID_S = 1800.0


def spec_of(dut: WaterHeaterDUT) -> WaterHeaterSpec:
    spec = dut.profile.water_heater
    assert spec is not None, "the profile has no [water_heater] table"
    return spec


def grid_step(dut: WaterHeaterDUT) -> float:
    """Start times the device can be sent: multiples of its start-time resolution, ≥ 30 min."""
    step = dut.start_time_step_s
    return step * max(1, round(GRID_S / step)) if step < GRID_S else step


def heating(dut: WaterHeaterDUT, power_w: float) -> bool:
    return power_w >= HEATING_FRACTION * spec_of(dut).rated_heating_power_w


def _describe(sample: HeaterSample) -> str:
    return f"{sample.status.power_w:.0f} W at {tod_text(sample.tod_s)}"


# -- *-2.1 -------------------------------------------------------------------------------------
def check_evaluation_share(dut: WaterHeaterDUT) -> float:
    """The DR-possible amount at the evaluation start time against the published share."""
    spec = spec_of(dut)
    # The amount is the device's figure for a start time: ask for the evaluation day's.
    start = spec.evaluation_start_s
    ack = dut.request_start_time(start)
    assert ack.accepted, f"the evaluation day's start time {tod_text(start)} was {ack.detail}"
    amount = dut.dr_possible_wh()
    share = amount / spec.daily_heating_wh
    dut.record_metric("dr_share", share, "")
    assert share >= 0.5, (
        f"DR-possible amount {amount:.0f} Wh is {share:.0%} of the evaluation day's heating "
        f"energy {spec.daily_heating_wh:.0f} Wh; DRready asks for at least 50 %"
    )
    published_wh = spec.published_dr_share * spec.daily_heating_wh
    allowed = dut.profile.tolerances.energy_allowed_wh(published_wh)
    assert abs(amount - published_wh) <= allowed, (
        f"DR-possible amount {amount:.0f} Wh ({share:.1%}) differs from the published share "
        f"{spec.published_dr_share:.0%} ({published_wh:.0f} Wh) by more than {allowed:.0f} Wh"
    )
    return amount


# -- *-2.2 -------------------------------------------------------------------------------------
def acceptance_cases(dut: WaterHeaterDUT) -> tuple[list[float], list[float]]:
    """Start times inside the published windows (each window's ends and middle) and outside
    (one grid step beyond each end, and the middle of the night)."""
    spec = spec_of(dut)
    step = grid_step(dut)
    inside: list[float] = []
    outside: list[float] = []
    for first, last in spec.windows_s:
        middle = first + round((last - first) / 2 / step) * step
        inside += [first, middle, last]
        outside += [(first - step) % DAY_S, (last + step) % DAY_S]
    outside.append(3 * 3600.0)
    outside = [t for t in dict.fromkeys(outside) if not spec.accepts(t)]
    return list(dict.fromkeys(inside)), outside


def check_acceptance(dut: WaterHeaterDUT) -> None:
    inside, outside = acceptance_cases(dut)
    problems: list[str] = []
    for start in inside:
        ack = dut.request_start_time(start)
        if not ack.accepted:
            problems.append(f"{tod_text(start)} is inside a published window but was {ack.detail}")
    last_plan = dut.planned_start()
    for start in outside:
        ack = dut.request_start_time(start)
        if ack.accepted:
            problems.append(f"{tod_text(start)} is outside every published window but was accepted")
        plan = dut.planned_start()
        if plan != last_plan:
            problems.append(
                f"after the request for {tod_text(start)} the plan changed from "
                f"{_plan(last_plan)} to {_plan(plan)}"
            )
        last_plan = plan
    assert not problems, "; ".join(problems)


def _plan(plan: float | None) -> str:
    return "no plan" if plan is None else tod_text(plan)


# -- *-2.3 -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftRun:
    """One DR heating shift as the harness saw it."""

    requested_at: float  # time of day of the request
    start_s: float  # the requested start time of day
    planned: float | None  # the plan the device reported right after the request
    samples: list[HeaterSample]  # from the request to WATCH_AFTER_START_S after the start
    dr_possible_wh: float | None  # the amount reported right after the request


def run_shift(
    dut: WaterHeaterDUT, request_at: float, start_s: float, *, read_amount: bool = False
) -> ShiftRun:
    """Wait until ``request_at``, request heating at ``start_s`` and watch until after it."""
    dut.wait_until_time_of_day(request_at)
    ack = dut.request_start_time(start_s)
    assert ack.accepted, (
        f"a start at {tod_text(start_s)}, inside the published window, was {ack.detail}"
    )
    planned = dut.planned_start()
    amount = dut.dr_possible_wh() if read_amount else None
    ahead = (start_s - request_at) % DAY_S
    samples = dut.sample_heater(ahead + WATCH_AFTER_START_S)
    return ShiftRun(request_at, start_s, planned, samples, amount)


def check_shift(dut: WaterHeaterDUT, run: ShiftRun) -> None:
    """*-2.3: the plan moved, no heating before the start outside the night period, heating
    starts at the start time ± tolerance."""
    spec = spec_of(dut)
    tolerance = dut.profile.tolerances.time_s
    start = run.start_s
    assert run.planned is not None and abs(run.planned - start) < 60, (
        f"after a DR request for {tod_text(start)} the device reports "
        + ("no plan" if run.planned is None else f"a plan for {tod_text(run.planned)}")
    )
    ahead = (start - run.requested_at) % DAY_S
    night = spec.night_heating_s
    early = [
        s
        for s in run.samples
        if s.elapsed_s < ahead - tolerance
        and heating(dut, s.status.power_w)
        and not in_period(s.tod_s, night)
    ]
    assert not early, (
        f"heating before the DR start time {tod_text(start)} outside the night period "
        f"{spec.night_heating[0]}-{spec.night_heating[1]}: first {_describe(early[0])}"
    )
    window = [s for s in run.samples if s.elapsed_s >= ahead - tolerance]
    first = next((s for s in window if heating(dut, s.status.power_w)), None)
    assert first is not None, (
        f"no heating power (≥ {HEATING_FRACTION:.0%} of {spec.rated_heating_power_w:.0f} W) "
        f"from {tod_text(start - tolerance)} to {tod_text(start + WATCH_AFTER_START_S)}; "
        f"the DR start time was {tod_text(start)}"
    )
    late = first.elapsed_s - ahead
    dut.record_metric("start_offset_s", late, "s")
    assert late <= tolerance, (
        f"heating started {late / 60:.0f} min after the DR start time {tod_text(start)} "
        f"({_describe(first)}); allowed {tolerance / 60:.0f} min"
    )


def check_aux_heater_stays_off(dut: WaterHeaterDUT, run: ShiftRun) -> None:
    """HY-2.3: the auxiliary heater does not run between the request and the end of the watch,
    so it cannot silently do the heat pump's DR heating."""
    burning = [s for s in run.samples if s.status.aux_on]
    assert not burning, (
        f"the auxiliary heater burned during the DR window (request {tod_text(run.requested_at)}, "
        f"start {tod_text(run.start_s)}), first at {tod_text(burning[0].tod_s)}"
    )


def shift_energy_wh(dut: WaterHeaterDUT, run: ShiftRun) -> float:
    """Electric energy drawn outside the night-heating period, from the request to the end of
    the watch: the DR heating wherever it happened (early heating included), not the night's."""
    night = spec_of(dut).night_heating_s
    pairs = zip(run.samples, run.samples[1:], strict=False)
    assert len(run.samples) >= 2, "too few samples to measure energy"
    return sum(
        b.status.energy_wh - a.status.energy_wh for a, b in pairs if not in_period(a.tod_s, night)
    )


def morning_s(dut: WaterHeaterDUT) -> float:
    """An hour after the device's night-heating period ends: the time a same-day DR is sent."""
    return (spec_of(dut).night_heating_s[1] + 3600.0) % DAY_S


def same_day_start(dut: WaterHeaterDUT, choices: Iterable[float]) -> float:
    """The first of ``choices`` at least LEAD_S after the morning request."""
    morning = morning_s(dut)
    for start in choices:
        if start - morning >= LEAD_S:
            return start
    pytest.fail(
        f"no published start time is {LEAD_S / 3600:.0f} h after {tod_text(morning)}",
        pytrace=False,
    )


# -- *-2.4 -------------------------------------------------------------------------------------
def check_power_tracks_heating(dut: WaterHeaterDUT, samples: Sequence[HeaterSample]) -> None:
    spec = spec_of(dut)
    rated = spec.rated_heating_power_w
    tolerances = dut.profile.tolerances
    # A heat pump's power varies with water and air temperature: ±25 % of the rating, or the
    # power tolerance if that is wider.
    allowed_on = max(tolerances.power_w, 0.25 * rated)
    on = [s for s in samples if s.status.heating]
    off = [s for s in samples if not s.status.heating]
    assert on, "the device never reported heating (0xB2) over the day watched"
    assert off, "the device reported heating (0xB2) all day long"
    wrong_on = [s for s in on if abs(s.status.power_w - rated) > allowed_on]
    assert not wrong_on, (
        f"while heating, power should be {rated:.0f} W ± {allowed_on:.0f} W; "
        f"{len(wrong_on)} of {len(on)} readings were not, first {_describe(wrong_on[0])}"
    )
    wrong_off = [s for s in off if s.status.power_w > tolerances.power_w]
    assert not wrong_off, (
        f"while not heating, power should be ≤ {tolerances.power_w:.0f} W; "
        f"{len(wrong_off)} of {len(off)} readings were not, first {_describe(wrong_off[0])}"
    )
