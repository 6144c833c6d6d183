"""Helpers of the battery suite that are not fixtures: plans sized from the harness's own physics.

A scenario is sized from the state of charge (0xE4), the capacity the profile declares
([ratings]) and the backup reserve the device reports (0xA7), never from the chargeable and
dischargeable amounts the device reports (0xA4/0xA5): those are what BAT-2.3 tests. A target is
chosen clearly apart from what the own mode is doing at the time, so that reaching it is the DR's
doing whatever the own mode was (self-consumption is rarely at rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from drready.bindings.types import DrAck, Sample, Status
from drready.device import BatteryDUT
from drready.device.checks import Execution, at
from drready.errors import Inconclusive
from drready.profile import Profile, Timings

#: A plan asks for this much more room than its energy: ramps, the own mode before the request,
#: the response time.
PLAN_MARGIN = 1.25
#: A target within this many power tolerances of the own mode's power would not show that the
#: DR, not the own mode, moved the battery.
DISTINCT_TOLERANCES = 3.0


def dr_mode(target_w: float) -> str:
    return "charging" if target_w > 0 else "discharging"


@dataclass(frozen=True)
class Room:
    """Energy the battery can still take (charge) or give (discharge) by the harness's own
    physics: SoC x declared capacity, down to the reserve; one SoC step (0xE4 is whole percent)
    is taken off each side."""

    charge_wh: float
    discharge_wh: float

    def toward(self, sign: float) -> float:
        return self.charge_wh if sign > 0 else self.discharge_wh


def room(dut: BatteryDUT, status: Status) -> Room:
    ratings = dut.profile.ratings
    assert ratings is not None, "the battery profile has no [ratings] table"
    capacity = ratings.capacity_wh
    step = capacity / 100.0
    stored = capacity * status.soc_pct / 100.0
    reserve = capacity * status.reserve_pct / 100.0
    return Room(max(0.0, capacity - stored - step), max(0.0, stored - reserve - step))


def energy_wh(power_w: float, duration_s: float) -> float:
    return abs(power_w) * duration_s / 3600.0


#: How long the own mode is watched before a plan is made (device time): long enough for the
#: energy counters to show its power when the power reading does not.
OWN_WINDOW_S = 120.0


@dataclass(frozen=True)
class Plan:
    """A DR target and what it was planned from."""

    target_w: float
    #: The status the plan was sized from (SoC, reserve), read last.
    status: Status
    #: What the own mode drew before the request, by each witness that shows it (W).
    own_w: dict[str, float]

    def own_text(self) -> str:
        return ", ".join(f"{w:+.0f} W by the {name}" for name, w in self.own_w.items())


def _own_power_w(samples: Sequence[Sample]) -> dict[str, float]:
    """The own mode's power over ``samples``, by each witness: the power reading, the meter,
    the energy counters (those may show a flow the power reading does not)."""
    first, last = samples[0], samples[-1]
    seen = {"power": last.status.power_w}
    if last.status.meter_power_w is not None:
        seen["meter"] = last.status.meter_power_w
    span_s = last.elapsed_s - first.elapsed_s
    a, b = first.status, last.status
    if span_s > 0 and None not in (a.charged_wh, a.discharged_wh, b.charged_wh, b.discharged_wh):
        assert a.charged_wh is not None and a.discharged_wh is not None
        assert b.charged_wh is not None and b.discharged_wh is not None
        net = (b.charged_wh - a.charged_wh) - (b.discharged_wh - a.discharged_wh)
        seen["energy counters"] = net * 3600.0 / span_s
    return seen


def plan_power(dut: BatteryDUT, power_w: float, duration_s: float) -> Plan:
    """A signed target for ``duration_s`` (+ charge, - discharge): the battery has room for it
    by its SoC, the declared capacity and its reserve, and it is clearly apart from what the own
    mode draws now by every witness. Discharge first, then charge; half the power if neither
    full one will do. :class:`Inconclusive` if nothing will."""
    samples = dut.sample(OWN_WINDOW_S)
    status = samples[-1].status
    space = room(dut, status)
    own = _own_power_w(samples)
    tolerances = dut.profile.tolerances
    candidates = [sign * power for power in (power_w, power_w / 2) for sign in (-1.0, 1.0)]
    fits = [t for t in candidates if space.toward(t) >= PLAN_MARGIN * energy_wh(t, duration_s)]
    for target in fits:
        apart = DISTINCT_TOLERANCES * tolerances.power_allowed_w(target)
        if all(abs(target - w) >= apart for w in own.values()):
            return Plan(target, status, own)
    plan = Plan(0.0, status, own)
    if fits:
        raise Inconclusive(
            f"the own mode draws {plan.own_text()} now, too close to every target the battery "
            f"has room for ({', '.join(f'{t:+.0f} W' for t in fits)}) to tell the DR's doing "
            "from the own mode's"
        )
    raise Inconclusive(
        f"too little room for {energy_wh(power_w, duration_s):.0f} Wh either way: SoC "
        f"{status.soc_pct:.0f} %, reserve {status.reserve_pct:.0f} % of the declared "
        f"{room_capacity(dut):.0f} Wh leave {space.charge_wh:.0f} Wh to charge and "
        f"{space.discharge_wh:.0f} Wh to discharge"
    )


def room_capacity(dut: BatteryDUT) -> float:
    ratings = dut.profile.ratings
    assert ratings is not None
    return ratings.capacity_wh


def make_room(dut: BatteryDUT, sign: float, need_wh: float) -> Status:
    """Bring the battery where it has ``need_wh`` of room to charge (``sign`` > 0) or to
    discharge, by a DR the other way at the rated power, then released. The status there.

    :class:`Inconclusive` if the DR is refused or the battery does not get there: the test
    that needs the room cannot start.
    """
    status = dut.status()
    if room(dut, status).toward(sign) >= need_wh:
        return status
    ratings = dut.profile.ratings
    assert ratings is not None
    power = ratings.max_discharge_w if sign > 0 else ratings.max_charge_w
    have = room(dut, status).toward(sign)
    timings = dut.profile.timings
    duration_s = (need_wh - have) / power * 3600.0 * 2 + timings.response_s + 600.0
    dut.note(f"making room: {need_wh:.0f} Wh to {'charge' if sign > 0 else 'discharge'} needed")
    ack = dut.request_power(-sign * power, duration_s)
    if not ack.accepted:
        raise Inconclusive(
            f"the DR that would make room for the test was refused: {ack.detail}", cause="BAT-2.1"
        )
    reached = dut.wait_until(lambda s: room(dut, s).toward(sign) >= need_wh, duration_s)
    dut.release_dr()
    if reached is None:
        raise Inconclusive(
            f"a DR of {-sign * power:+.0f} W for {duration_s:.0f} s did not make "
            f"{need_wh:.0f} Wh of room (SoC {dut.status().soc_pct:.0f} %)",
            cause="BAT-2.2",
        )
    return dut.status()


def require_moved(
    dut: BatteryDUT, samples: Sequence[Sample], target_w: float, what: str
) -> Execution:
    """The DR visibly moved energy its way, by the witnesses that agree: at least the energy
    tolerance, or a tenth of what the DR asked over the samples. Otherwise what ``what`` judges
    cannot be judged: :class:`Inconclusive`, caused by the DR not being executed (BAT-2.2)."""
    judged = dut.execution(samples)
    span = samples[-1].elapsed_s - samples[0].elapsed_s if samples else 0.0
    least = max(dut.profile.tolerances.energy_wh, 0.1 * energy_wh(target_w, span))
    moved = judged.net_wh if target_w > 0 else -judged.net_wh
    if moved < least:
        where = f"between {at(samples[0])} and {at(samples[-1])}" if samples else ""
        raise Inconclusive(
            f"{what} cannot be judged: the DR of {target_w:+.0f} W moved {judged.net_wh:+.0f} Wh "
            f"{where} by the {judged.witness} (at least {least:.0f} Wh {dr_mode(target_w)} "
            "expected): the device did not execute it",
            cause="BAT-2.2",
        )
    return judged


def joined(first: Sequence[Sample], then: Sequence[Sample], time_scale: float) -> list[Sample]:
    """Two sampling windows as one series, ``then`` shifted to follow ``first`` on the device's
    clock (each window's ``elapsed_s`` starts at 0)."""
    if not first:
        return list(then)
    if not then:
        return list(first)
    offset = first[0].elapsed_s + (then[0].time - first[0].time) * time_scale - then[0].elapsed_s
    return [*first, *(replace(s, elapsed_s=s.elapsed_s + offset) for s in then)]


def standard_power_w(profile: Profile) -> float:
    """Half the smaller rated power: far from both ratings, so clamping cannot hide an error."""
    ratings = profile.ratings
    assert ratings is not None, "the battery profile has no [ratings] table"
    return 0.5 * min(ratings.max_charge_w, ratings.max_discharge_w)


# -- the request series: one DR scenario that BAT-2.1 and BAT-2.2 both judge -----------------


def series_gaps_s(timings: Timings) -> list[float]:
    """Gaps before each request of the series (device seconds). The first gap is the declared
    request interval (BAT-2.1 note 2: 30 minutes or less), and long enough for BAT-2.2 to see
    the first request reach its target and hold it (twice the response time); then ever
    shorter ones. A gap that would repeat the one before is left out."""
    first = max(timings.request_interval_s, 2 * timings.response_s)
    return [0.0, *dict.fromkeys([first, timings.request_interval_s, 600.0, 60.0])]


def series_duration_s(profile: Profile) -> float:
    """Device time the request series takes: the own mode watched, then every gap."""
    return OWN_WINDOW_S + sum(series_gaps_s(profile.timings))


@dataclass(frozen=True)
class SeriesStep:
    """One request of the series and what the device said right after it."""

    index: int
    gap_s: float
    target_w: float
    ack: DrAck
    #: The mode and target read back (None: the request was refused, nothing was read).
    mode: str | None
    applied_w: float | None


@dataclass(frozen=True)
class RequestSeries:
    """Requests of alternating direction, each sent while the one before still runs (its
    duration outlives the series): BAT-2.1 judges their acceptance, BAT-2.2 the first one's
    execution over the first gap, so the two requirements share one DR's device time."""

    plan: Plan
    steps: tuple[SeriesStep, ...]
    #: The readings from the first request until the second (the first gap).
    first_window: tuple[Sample, ...]
    #: The test during which the series ran (evidence of the shared DR is filed under it).
    ran_in: str


@dataclass
class SharedScenarios:
    """Scenarios run once per session and judged by several tests: the first test that needs
    one runs it; an :class:`Inconclusive` it raised is raised again for every test that needs
    it."""

    series: RequestSeries | Inconclusive | None = None


def request_series(
    dut: BatteryDUT, shared: SharedScenarios, power_w: float, test: str
) -> RequestSeries:
    if shared.series is None:
        try:
            shared.series = _run_series(dut, power_w, test)
        except Inconclusive as exc:
            shared.series = exc
    if isinstance(shared.series, Inconclusive):
        raise shared.series
    if shared.series.ran_in != test:
        dut.note(f"judged from the request series run during {shared.series.ran_in}")
    return shared.series


def _run_series(dut: BatteryDUT, power_w: float, test: str) -> RequestSeries:
    dut.prepare()
    timings = dut.profile.timings
    gaps_s = series_gaps_s(timings)
    duration_s = sum(gaps_s) + 2 * timings.request_interval_s  # every request outlives the next
    # The direction alternates, so the first request's direction carries the most energy.
    plan = plan_power(dut, power_w, sum(gaps_s))
    target = plan.target_w
    steps: list[SeriesStep] = []
    first_window: list[Sample] = []
    for index, gap in enumerate(gaps_s):
        if gap:
            # Keep talking, as a gateway does, until the next request is due.
            samples = dut.sample(gap)
            if index == 1:
                first_window = samples
        # Alternate the direction so each request visibly changes what the device must do.
        target = -target if index else target
        ack = dut.request_power(target, duration_s)
        if not ack.accepted:
            steps.append(SeriesStep(index, gap, target, ack, None, None))
            break
        steps.append(SeriesStep(index, gap, target, ack, dut.read_mode(), dut.read_target_w()))
    return RequestSeries(plan, tuple(steps), tuple(first_window), test)
