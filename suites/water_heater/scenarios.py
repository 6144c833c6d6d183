"""The water-heater checks, shared by the heat-pump (HP-) and hybrid (HY-) suites.

The suites' test functions carry the requirement markers and call these; nothing here speaks bytes.
Times are seconds after the device's local midnight ("time of day"), on the device's own clock.
Harness readings (REQUIREMENTS.md, printed in the catalog):
- *-2.1: the DR-possible amount for the evaluation day's start time, over the declared daily
  heating energy, is ≥ 0.5 and equals the published share within the energy tolerance.
- *-2.2: start times inside a published acceptance window are accepted and become the plan;
  start times outside are refused and leave the plan as it was.
- *-2.3: the reported plan moves to the requested time; between the request and the start time the
  heat pump heats only inside its declared night-heating period; heating starts at the start
  time ± the time tolerance. Every witness the device offers judges this (power 0x84, energy
  counter 0x85, heating status 0xB2; the majority decides), so a broken reading is a *-2.4
  finding, not a *-2.3 failure.
- *-2.4: while the device says it heats, power is near the rated heating power; while it does not,
  near zero; both states are seen over a day; the energy counter agrees with the power readings
  and never goes back or jumps, from a reading before a DR request to one after its heating.

Isolation: every test runs inside :func:`own_state`, which establishes the device's own state
(automatic heating, no DR start time pending) before it and withdraws the plan it set after it,
reading both back. What cannot be established makes the test inconclusive, naming the
requirement whose failure caused it (a plan that will not go: *-2.2).
Plans are sized and timed from the declared ratings and published figures, never from a value
the test judges.

One module past ~500 lines: every check here is one of the same four requirements of the same
two classes, run by the same isolation and shift steps; split, each part would import the rest.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest

from drready.bindings.types import POWER_WITNESS, STATUS_WITNESS, HeaterSample
from drready.device import DAY_S, WaterHeaterDUT
from drready.device.heater_checks import (
    WITNESS_LABELS,
    Disagreement,
    EnergyEstimate,
    HeaterRatings,
    disagreements,
    energy_drawn,
    judge_start,
    offered,
)
from drready.errors import Inconclusive
from drready.evidence import Finding
from drready.profile import WaterHeaterSpec
from drready.timeofday import in_period, tod_text

#: Below this share of the rated power the heat pump counts as not heating (it idles near 0 W).
HEATING_FRACTION = 0.5
#: How long after the start time a DR heating is watched for at least (device seconds); longer
#: when the declared DR heating (published share of the daily heating at rated power) is.
WATCH_AFTER_START_S = 3 * 3600.0
#: Watched past the end of the declared DR heating, so the reading after its end is taken.
WATCH_PAST_END_S = 3600.0
#: A plan that cannot be withdrawn is waited out until this long past its start time (a plan
#: clears at its start time; the device clock has minute resolution).
LAPSE_S = 600.0
#: A DR start time is requested at least this long ahead, so "not before" has room to be seen.
LEAD_S = 2 * 3600.0
#: How many polls the reading before a DR request may take (each may be lost).
BEFORE_ATTEMPTS = 3
#: Start times are tried on a grid of at least 30 minutes (DRready: 30-minute slots).
GRID_S = 1800.0
#: The samples' times of day come from one read of the device's clock, in whole minutes: each
#: is up to this much earlier than the time it was really taken at.
CLOCK_RESOLUTION_S = 60.0


def spec_of(dut: WaterHeaterDUT) -> WaterHeaterSpec:
    spec = dut.profile.water_heater
    assert spec is not None, "the profile has no [water_heater] table"
    return spec


def requirement(dut: WaterHeaterDUT, number: str) -> str:
    """The ID of requirement ``number`` ("2.2") of this device's class ("HP-2.2")."""
    return f"{dut.device_class.prefix}-{number}"


def ratings_of(dut: WaterHeaterDUT) -> HeaterRatings:
    """What the witnesses are judged against: declared figures, never the device's readings."""
    return HeaterRatings(
        rated_w=spec_of(dut).rated_heating_power_w,
        interval_s=dut.profile.timings.poll_interval_s,
        tolerances=dut.profile.tolerances,
        heating_fraction=HEATING_FRACTION,
    )


def watch_after_start_s(dut: WaterHeaterDUT) -> float:
    """How long to watch after a DR start time: past the end of the declared DR heating (the
    published share of the daily heating energy at the rated power), at least 3 h."""
    spec = spec_of(dut)
    heating_s = spec.published_dr_share * spec.daily_heating_wh / spec.rated_heating_power_w * 3600
    return max(WATCH_AFTER_START_S, heating_s + WATCH_PAST_END_S)


# -- isolation -----------------------------------------------------------------------------------
@contextmanager
def own_state(dut: WaterHeaterDUT) -> Iterator[None]:
    """Run a test from the device's own state and withdraw the plan it leaves.

    Before: :func:`establish_own_state`. After (whatever the test's outcome, but not on an
    interrupt): the DR start time is withdrawn and read back; one that will not go is noted, and
    the next test's :func:`establish_own_state` deals with it, so a test's verdict is never
    changed by its clean-up.
    """
    establish_own_state(dut)
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:
        restore_own_state(dut)
        raise
    restore_own_state(dut)


def establish_own_state(dut: WaterHeaterDUT) -> None:
    """Automatic heating, no DR start time pending; Inconclusive where that cannot be had.

    A pending plan is withdrawn; one the device (or the binding) will not withdraw is waited out
    until its start time, where a plan clears by itself. One that stays even then makes the test
    inconclusive with *-2.2 (the device's handling of start times) as the cause.
    """
    mode = dut.heating_mode()
    if mode is not None and mode != "auto":
        raise Inconclusive(
            f"the device's automatic heating setting (0xB0) is {mode!r}, not 'auto': a DR shifts "
            "the heating the device plans by itself, which is off; the harness does not change "
            "the user's setting"
        )
    plan = dut.planned_start()
    if plan is None:
        return
    dut.note(f"a DR start time {tod_text(plan)} is pending before the test: withdraw it")
    if dut.clear_plan():
        return
    dut.note(f"the plan for {tod_text(plan)} did not go: wait until it clears at its start time")
    dut.wait_until_time_of_day((plan + LAPSE_S) % DAY_S)
    left = dut.planned_start()
    if left is None:
        return
    raise Inconclusive(
        f"a DR start time {tod_text(plan)} was pending before the test; the device neither "
        f"withdrew it when asked nor cleared it at its start time (it now reports "
        f"{tod_text(left)}), so the test could not start from the device's own plan",
        cause=requirement(dut, "2.2"),
    )


def restore_own_state(dut: WaterHeaterDUT) -> None:
    """Withdraw the DR start time the test set and check it went; never raises (the next test
    establishes its own state and says what stood in the way)."""
    try:
        if dut.planned_start() is None or dut.clear_plan():
            return
        dut.note("after the test the DR start time did not go: the next test deals with it")
    except Exception as exc:  # an exchange that failed, a refused read: never the verdict's
        dut.note(f"after the test the plan could not be withdrawn: {type(exc).__name__}: {exc}")


def grid_step(dut: WaterHeaterDUT) -> float:
    """Start times the device can be sent: multiples of its start-time resolution, ≥ 30 min."""
    step = dut.start_time_step_s
    return step * max(1, round(GRID_S / step)) if step < GRID_S else step


def heating(dut: WaterHeaterDUT, power_w: float) -> bool:
    return power_w >= HEATING_FRACTION * spec_of(dut).rated_heating_power_w


def report_disagreements(
    dut: WaterHeaterDUT, samples: Sequence[HeaterSample], extra: Iterable[Disagreement] = ()
) -> list[Disagreement]:
    """File the witnesses' contradictions in ``samples`` as *-2.4 findings (the reporting
    requirement), whatever the running test judges; those certain despite lost polls."""
    found = [d for d in [*disagreements(samples, ratings_of(dut)), *extra] if d.certain]
    for item in found:
        dut.findings.append(Finding(requirement(dut, "2.4"), item.summary, item.records, item.rule))
        dut.note(f"finding against {requirement(dut, '2.4')}: {item.summary}", rule=item.rule)
    return found


# -- *-2.1 -------------------------------------------------------------------------------------
def check_evaluation_share(dut: WaterHeaterDUT) -> float:
    """The DR-possible amount at the evaluation start time against the published share."""
    spec = spec_of(dut)
    # The amount is the device's figure for a start time: ask for the evaluation day's.
    start = spec.evaluation_start_s
    ack = dut.request_start_time(start)
    if not ack.accepted:
        raise Inconclusive(
            f"the evaluation day's start time {tod_text(start)} was {ack.detail}, so the device "
            "gave no amount for it",
            cause=requirement(dut, "2.2"),
        )
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
    samples: list[HeaterSample]  # from the request to the watch's end after the start
    dr_possible_wh: float | None  # the amount reported right after the request
    #: The reading taken just before the request (elapsed < 0), None if that poll was lost.
    before: HeaterSample | None = None
    #: Device seconds from the request to the first of ``samples``' clock (elapsed 0): the
    #: request, and the plan and amount read after it, take time (over a server, a poll or a
    #: report interval each).
    lag_s: float = 0.0

    @property
    def ahead_s(self) -> float:
        """Device seconds from the request to the start time."""
        return (self.start_s - self.requested_at) % DAY_S

    @property
    def start_elapsed_s(self) -> float:
        """Where the start time falls on ``samples``' clock."""
        return self.ahead_s - self.lag_s

    @property
    def across(self) -> list[HeaterSample]:
        """Every reading, from before the request to after the DR heating's end."""
        return ([self.before] if self.before is not None else []) + self.samples


def run_shift(
    dut: WaterHeaterDUT,
    request_at: float | None,
    start_s: float,
    *,
    read_amount: bool = False,
    watch_s: float | None = None,
) -> ShiftRun:
    """Wait until ``request_at`` (None: request now), read the heater, request heating at
    ``start_s`` and watch until the declared DR heating is over (or for ``watch_s``, if longer).
    A refused request (the start time is inside a published window) leaves nothing to judge
    here: inconclusive, caused by *-2.2.

    The request is timed by the device's clock read after the wait, not by the wait's target:
    a wait ends up to ``LATE_S`` past its target (over OpenADR 3 each read of the device's
    clock waits for the VEN's next report, 5 minutes apart), and the DR start's place on the
    samples' clock is reckoned from the request."""
    if request_at is not None:
        dut.wait_until_time_of_day(request_at)
    request_at = dut.time_of_day_s()
    before_at = dut.elapsed_s()
    before: list[HeaterSample] = []
    for _ in range(BEFORE_ATTEMPTS):  # a lost poll here would leave the counter unanchored
        before = dut.sample_heater(0.0)
        if before:
            break
    ack = dut.request_start_time(start_s)
    if not ack.accepted:
        raise Inconclusive(
            f"a DR start at {tod_text(start_s)}, inside the published window, was {ack.detail}",
            cause=requirement(dut, "2.2"),
        )
    planned = dut.planned_start()
    amount = dut.dr_possible_wh() if read_amount else None
    ahead = (start_s - request_at) % DAY_S
    sampling_at = dut.elapsed_s()
    samples = dut.sample_heater(max(ahead + watch_after_start_s(dut), watch_s or 0.0))
    first = replace(before[0], elapsed_s=before_at - sampling_at) if before else None
    lag_s = sampling_at - before_at
    return ShiftRun(request_at, start_s, planned, samples, amount, first, lag_s)


def check_shift(dut: WaterHeaterDUT, run: ShiftRun) -> None:
    """*-2.3: the plan moved, no heating before the start outside the night period, heating
    starts at the start time ± tolerance, by every witness the device offers."""
    spec = spec_of(dut)
    tolerance = dut.profile.tolerances.time_s
    start = run.start_s
    assert run.planned is not None and abs(run.planned - start) < 60, (
        f"after a DR request for {tod_text(start)} the device reports "
        + ("no plan" if run.planned is None else f"a plan for {tod_text(run.planned)}")
    )
    judgement = judge_start(
        run.samples,
        start_s=run.start_elapsed_s,
        tolerance_s=tolerance,
        night=spec.night_heating_s,
        ratings=ratings_of(dut),
    )
    dissent: list[Disagreement] = []
    if judgement.dissent:
        dissent.append(
            Disagreement(
                "witness-dissent",
                f"the witnesses disagree about the DR start at {tod_text(start)}: "
                + judgement.text(),
                tuple(r for v in judgement.views for r in v.records),
            )
        )
    report_disagreements(dut, run.across, dissent)
    onsets = [v.onset_s for v in judgement.views if v.onset_s is not None]
    if onsets:
        dut.record_metric("start_offset_s", statistics.median(onsets), "s")
    where = (
        f"the DR start time was {tod_text(start)} (± {tolerance / 60:.0f} min), "
        f"night period {spec.night_heating[0]}-{spec.night_heating[1]}"
    )
    if judgement.outcome == "undecided":
        votes = [v for v in judgement.views if v.verdict != "undecided"]
        raise Inconclusive(
            f"the witnesses cannot tell when the heating started ({where}): {judgement.text()}",
            cause=requirement(dut, "2.4") if votes else requirement(dut, "1.1"),
        )
    assert judgement.outcome == "pass", (
        f"heating did not start at the DR start time by "
        f"{sum(1 for v in judgement.views if v.verdict not in ('on-time', 'undecided'))} of "
        f"{len(judgement.views)} witnesses ({where}): {judgement.text()}"
    )


def check_aux_heater_stays_off(dut: WaterHeaterDUT, run: ShiftRun) -> None:
    """HY-2.3: the auxiliary heater does not run between the request and the end of the watch,
    so it cannot silently do the heat pump's DR heating."""
    burning = [s for s in run.samples if s.status.aux_on]
    assert not burning, (
        f"the auxiliary heater burned during the DR window (request {tod_text(run.requested_at)}, "
        f"start {tod_text(run.start_s)}), first at {tod_text(burning[0].tod_s)}"
    )


def shift_energy(dut: WaterHeaterDUT, run: ShiftRun) -> EnergyEstimate:
    """Electric energy drawn outside the night-heating period, from the request to the end of
    the watch: the DR heating wherever it happened (early heating included), not the night's.
    From the energy counter where it is sound, else the power readings.

    An interval counts only if it lies wholly outside the night period though its end was read
    up to :data:`CLOCK_RESOLUTION_S` later than its time of day says: one that reaches into
    the night holds the night's heating (a whole poll interval of it, when its start is
    labelled a moment before the night's start and taken a moment after)."""
    night = spec_of(dut).night_heating_s
    if len(run.samples) < 2:
        raise Inconclusive(
            "too few readings to measure energy: polls lost", cause=requirement(dut, "1.1")
        )

    def outside_the_night(a: HeaterSample, b: HeaterSample) -> bool:
        return not in_period(a.tod_s, night) and not in_period(
            (b.tod_s + CLOCK_RESOLUTION_S) % DAY_S, night
        )

    return energy_drawn(run.samples, ratings_of(dut), include=outside_the_night)


def check_drawn_is_the_amount(dut: WaterHeaterDUT, run: ShiftRun) -> None:
    """HY-2.1: the amount reported for the shift's start time is the energy the shift drew."""
    assert run.dr_possible_wh is not None
    report_disagreements(dut, run.across)
    drawn = shift_energy(dut, run)
    dut.record_metric("dr_possible_wh", run.dr_possible_wh, "Wh")
    dut.record_metric("shift_energy_wh", drawn.wh, "Wh")
    allowed = dut.profile.tolerances.energy_allowed_wh(run.dr_possible_wh)
    difference = abs(drawn.wh - run.dr_possible_wh)
    text = (
        f"for a start at {tod_text(run.start_s)} the device reported a DR-possible amount of "
        f"{run.dr_possible_wh:.0f} Wh, but the shift drew {drawn.wh:.0f} Wh "
        f"(allowed difference {allowed:.0f} Wh)"
    )
    if difference <= allowed:
        return
    if difference - drawn.uncertainty_wh <= allowed:
        # The drawn energy rests on power readings across lost polls (or a broken counter).
        cause = "2.4" if drawn.substituted else "1.1"
        raise Inconclusive(
            f"{text}; readings lost or unusable leave it uncertain by "
            f"{drawn.uncertainty_wh:.0f} Wh",
            cause=requirement(dut, cause),
        )
    raise AssertionError(text)


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
def check_reporting(
    dut: WaterHeaterDUT, samples: Sequence[HeaterSample], *, both_states: bool = True
) -> None:
    """*-2.4 over a series: power readable; the heating status, the power and the energy
    counter agree; the counter never goes back or jumps; and (``both_states``) heating and
    idle both seen. Contradictions only lost polls could explain make it inconclusive."""
    if len(samples) < 2:
        raise Inconclusive("too few readings to judge: polls lost", cause=requirement(dut, "1.1"))
    witnesses = offered(samples)
    assert POWER_WITNESS in witnesses, (
        "the device gives no instantaneous power reading (0x84 is not in its Get property map)"
    )
    if both_states:
        if STATUS_WITNESS in witnesses:
            states = {s.status.heating for s in samples}
            label = WITNESS_LABELS[STATUS_WITNESS]
        else:
            states = {heating(dut, s.status.power_w) for s in samples}
            label = WITNESS_LABELS[POWER_WITNESS]
        assert True in states, f"the device never reported heating ({label}) over the day watched"
        assert False in states, f"the device reported heating ({label}) all day long"
    found = disagreements(samples, ratings_of(dut))
    certain = [d for d in found if d.certain]
    assert not certain, "; ".join(d.summary for d in certain)
    if found:
        raise Inconclusive("; ".join(d.summary for d in found), cause=requirement(dut, "1.1"))


def check_day_with_a_shift(dut: WaterHeaterDUT) -> None:
    """*-2.4 over a day of the device's own heating with a DR shift in it (requested now for
    the evaluation day's start time): from a reading before the request, through the DR
    heating and its end, so a counter that resets or jumps at a DR start or end shows. A refused
    request leaves the day to judge without a DR: a failure then stands, a pass is inconclusive
    (the counter across a DR start went unchecked), caused by *-2.2."""
    try:
        run = run_shift(dut, None, spec_of(dut).evaluation_start_s, watch_s=DAY_S)
    except Inconclusive:
        check_reporting(dut, dut.sample_heater(DAY_S))
        raise
    if run.before is None:
        raise Inconclusive(
            "the reading before the DR request was lost", cause=requirement(dut, "1.1")
        )
    check_reporting(dut, run.across)
