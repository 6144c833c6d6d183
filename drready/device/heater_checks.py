"""Analyses of a water heater's sampled series: what each witness of its heating says about a DR
start, whether the witnesses agree with each other, and the energy drawn across lost polls.

A water heater may offer three witnesses of its heating: instantaneous power (0x84), the
cumulative energy counter (0x85) and the heating status (0xB2). Execution (*-2.3) is judged by
every witness offered, each on its own; the majority decides, so one broken reading cannot make
a heat pump that started on time fail *-2.3. The reporting requirement (*-2.4) is where broken
readings belong: :func:`disagreements` says where the witnesses contradict each other (both
readings shown) and where the counter went back or jumped.

A poll interval much wider than the nominal one is a gap (polls were lost). The analyses never
fail on what a gap hides: a witness whose verdict depends on it abstains, and an energy figure
carries the uncertainty the gaps add, so the caller can tell "wrong" from "cannot tell".
Everything here is pure: series in, verdicts and sentences out.

One idea past ~500 lines: the witnesses of a water heater's heating read against each other;
the start judgement, the agreement checks and the energy figure share one set of rules (what a
gap is, when a counter rise is sound, the heating threshold) that must not drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from drready.bindings.types import (
    ENERGY_WITNESS,
    HEATER_WITNESSES,
    POWER_WITNESS,
    STATUS_WITNESS,
    HeaterSample,
)
from drready.profile import Tolerances
from drready.timeofday import in_period, tod_text

__all__ = [
    "AGREEMENT_WINDOW_S",
    "GAP_FACTOR",
    "WITNESS_LABELS",
    "Disagreement",
    "EnergyEstimate",
    "HeaterRatings",
    "StartJudgement",
    "WitnessView",
    "disagreements",
    "energy_drawn",
    "is_gap",
    "judge_start",
    "offered",
]

#: An interval between two readings this many times the nominal poll interval or wider is a gap:
#: at least one poll was lost in it.
GAP_FACTOR = 1.5
#: The power and energy witnesses are compared over windows of about this length (device s):
#: long enough that the few readings straddling a change of state weigh little.
AGREEMENT_WINDOW_S = 3600.0
#: A last window shorter than this is not compared (too few readings to say anything).
SHORTEST_WINDOW_S = 900.0
#: A heat pump's power varies with the water and the air: while heating it may be this share of
#: its rating away from it, and its power reading this share away from its energy counter.
HEATING_POWER_BAND = 0.25
#: The energy counter may rise this many times what the rated power draws in the same time
#: (plus the energy tolerance, for counters that update in steps) before the rise is a jump.
JUMP_FACTOR = 1.5
#: 0x85 counts in 0.001 kWh: smaller moves are its resolution, not a change.
COUNTER_RESOLUTION_WH = 1.0
#: A witness whose window after the start time holds less than this share of readings (the rest
#: lost) says nothing about heating that never showed.
MIN_COVERAGE = 0.5

#: How each witness is named in findings and failure text.
WITNESS_LABELS = {
    POWER_WITNESS: "power (0x84)",
    ENERGY_WITNESS: "energy counter (0x85)",
    STATUS_WITNESS: "heating status (0xB2)",
}

Verdict = Literal["on-time", "early", "late", "none", "undecided"]


@dataclass(frozen=True)
class HeaterRatings:
    """What the analyses judge against: the declared ratings and tolerances, and the nominal
    poll interval (device seconds), never a value the device reports."""

    rated_w: float
    interval_s: float
    tolerances: Tolerances
    #: Below this share of the rated power the heat pump counts as not heating.
    heating_fraction: float = 0.5

    @property
    def threshold_w(self) -> float:
        return self.heating_fraction * self.rated_w

    @property
    def allowed_on_w(self) -> float:
        """How far from the rated power a heating reading may be."""
        return max(self.tolerances.power_w, HEATING_POWER_BAND * self.rated_w)

    def max_rise_wh(self, seconds: float) -> float:
        """The most the counter may rise in ``seconds`` without it being a jump."""
        slack = max(COUNTER_RESOLUTION_WH, self.tolerances.energy_wh)
        return JUMP_FACTOR * self.rated_w * seconds / 3600.0 + slack


def offered(samples: Sequence[HeaterSample]) -> tuple[str, ...]:
    """The witnesses every reading of the series gave, in :data:`HEATER_WITNESSES` order."""
    if not samples:
        return ()
    common = set(HEATER_WITNESSES)
    for sample in samples:
        common &= set(sample.status.witnesses)
    return tuple(w for w in HEATER_WITNESSES if w in common)


def is_gap(a: HeaterSample, b: HeaterSample, interval_s: float) -> bool:
    """Were polls lost between readings ``a`` and ``b``?"""
    return b.elapsed_s - a.elapsed_s > GAP_FACTOR * interval_s


def _at(sample: HeaterSample) -> str:
    return tod_text(sample.tod_s)


def _records(*samples: HeaterSample) -> tuple[int, ...]:
    return tuple(s.record for s in samples if s.record is not None)


def _rise(a: HeaterSample, b: HeaterSample) -> float:
    return b.status.energy_wh - a.status.energy_wh


def _counter_sound(a: HeaterSample, b: HeaterSample, ratings: HeaterRatings) -> bool:
    """Neither back nor a jump: the counter's rise between ``a`` and ``b`` can be used."""
    rise = _rise(a, b)
    return -COUNTER_RESOLUTION_WH <= rise <= ratings.max_rise_wh(b.elapsed_s - a.elapsed_s)


def _coverage(samples: Sequence[HeaterSample], since_s: float, interval_s: float) -> float:
    """The share of the time from ``since_s`` to the last reading that readings cover."""
    window = [s for s in samples if s.elapsed_s >= since_s]
    if len(window) < 2:
        return 0.0
    span = window[-1].elapsed_s - since_s
    if span <= 0:
        return 0.0
    covered = sum(
        b.elapsed_s - a.elapsed_s for a, b in pairwise(window) if not is_gap(a, b, interval_s)
    )
    return min(1.0, covered / span)


# -- what each witness says about a DR start --------------------------------------------------


@dataclass(frozen=True)
class WitnessView:
    """One witness's account of a DR start: its verdict and one line saying what it showed."""

    witness: str
    verdict: Verdict
    detail: str
    records: tuple[int, ...] = ()
    #: When this witness saw the heating start, device seconds from the request (None: never).
    onset_s: float | None = None

    @property
    def label(self) -> str:
        return WITNESS_LABELS[self.witness]


@dataclass(frozen=True)
class StartJudgement:
    """*-2.3 from every witness: "pass" or "fail" by a majority of those that could tell,
    "undecided" on a tie or when none could."""

    outcome: Literal["pass", "fail", "undecided"]
    views: tuple[WitnessView, ...]

    def text(self) -> str:
        return "; ".join(f"{v.label}: {v.detail}" for v in self.views)

    @property
    def dissent(self) -> tuple[WitnessView, ...]:
        """The witnesses that told another story than the verdict (or each other)."""
        if self.outcome == "pass":
            return tuple(v for v in self.views if v.verdict not in ("on-time", "undecided"))
        if self.outcome == "fail":
            return tuple(v for v in self.views if v.verdict == "on-time")
        return tuple(v for v in self.views if v.verdict != "undecided")


def judge_start(
    samples: Sequence[HeaterSample],
    *,
    start_s: float,
    tolerance_s: float,
    night: tuple[float, float],
    ratings: HeaterRatings,
) -> StartJudgement:
    """Did the heating start at ``start_s`` (device seconds from the request) ± ``tolerance_s``
    and not before (heating inside the ``night`` period excepted), by each witness offered?"""
    views: list[WitnessView] = []
    witnesses = offered(samples)
    threshold = ratings.threshold_w
    args = (samples, start_s, tolerance_s, night, ratings.interval_s)
    if POWER_WITNESS in witnesses:
        views.append(
            _instant_view(
                POWER_WITNESS,
                lambda s: s.status.power_w >= threshold,
                lambda s: f"{s.status.power_w:.0f} W at {_at(s)}",
                *args,
            )
        )
    if ENERGY_WITNESS in witnesses:
        views.append(_energy_view(samples, start_s, tolerance_s, night, ratings))
    if STATUS_WITNESS in witnesses:
        views.append(
            _instant_view(
                STATUS_WITNESS,
                lambda s: s.status.heating,
                lambda s: f"{'heating' if s.status.heating else 'not heating'} at {_at(s)}",
                *args,
            )
        )
    votes = [v for v in views if v.verdict != "undecided"]
    passes = sum(1 for v in votes if v.verdict == "on-time")
    fails = len(votes) - passes
    if votes and 2 * passes > len(votes):
        outcome: Literal["pass", "fail", "undecided"] = "pass"
    elif votes and 2 * fails > len(votes):
        outcome = "fail"
    else:
        outcome = "undecided"
    return StartJudgement(outcome, tuple(views))


def _instant_view(
    witness: str,
    heats: Callable[[HeaterSample], bool],
    show: Callable[[HeaterSample], str],
    samples: Sequence[HeaterSample],
    start_s: float,
    tolerance_s: float,
    night: tuple[float, float],
    interval_s: float,
) -> WitnessView:
    """A witness read at each poll (power, heating status)."""
    early = [
        s
        for s in samples
        if s.elapsed_s < start_s - tolerance_s and heats(s) and not in_period(s.tod_s, night)
    ]
    if early:
        return WitnessView(
            witness,
            "early",
            f"heating before the start time, outside the night period: first {show(early[0])}",
            _records(early[0]),
        )
    index = next(
        (i for i, s in enumerate(samples) if s.elapsed_s >= start_s - tolerance_s and heats(s)),
        None,
    )
    if index is None:
        if _coverage(samples, start_s - tolerance_s, interval_s) < MIN_COVERAGE:
            return WitnessView(witness, "undecided", "too many polls after the start time lost")
        last = samples[-1] if samples else None
        until = f" until {_at(last)}" if last is not None else ""
        return WitnessView(witness, "none", f"no heating from the start time{until}")
    first = samples[index]
    late = first.elapsed_s - start_s
    if late <= tolerance_s:
        return WitnessView(witness, "on-time", f"on time ({show(first)})", _records(first), late)
    previous = samples[index - 1] if index > 0 else None
    if (
        previous is not None
        and is_gap(previous, first, interval_s)
        and previous.elapsed_s - start_s <= tolerance_s
    ):
        return WitnessView(
            witness,
            "undecided",
            f"heating first seen {show(first)}, after polls lost since {_at(previous)}: it may "
            "have started in time",
            _records(previous, first),
        )
    return WitnessView(
        witness,
        "late",
        f"heating first {show(first)}, {late / 60:.0f} min after the start time",
        _records(first),
        late,
    )


def _energy_view(
    samples: Sequence[HeaterSample],
    start_s: float,
    tolerance_s: float,
    night: tuple[float, float],
    ratings: HeaterRatings,
) -> WitnessView:
    """The counter, read as the average power between two readings."""

    def heated(a: HeaterSample, b: HeaterSample) -> bool:
        seconds = b.elapsed_s - a.elapsed_s
        return (
            seconds > 0
            and _counter_sound(a, b, ratings)
            and _rise(a, b) * 3600.0 / seconds >= ratings.threshold_w
        )

    def show(a: HeaterSample, b: HeaterSample) -> str:
        seconds = max(b.elapsed_s - a.elapsed_s, 1e-9)
        return (
            f"+{_rise(a, b):.0f} Wh from {_at(a)} to {_at(b)} "
            f"({_rise(a, b) * 3600.0 / seconds:.0f} W on average)"
        )

    pairs = list(pairwise(samples))
    for a, b in pairs:
        if (
            b.elapsed_s < start_s - tolerance_s
            and heated(a, b)
            and not in_period(a.tod_s, night)
            and not in_period(b.tod_s, night)
        ):
            return WitnessView(
                ENERGY_WITNESS,
                "early",
                f"heating before the start time, outside the night period: first {show(a, b)}",
                _records(a, b),
            )
    found = next(
        ((a, b) for a, b in pairs if b.elapsed_s >= start_s - tolerance_s and heated(a, b)), None
    )
    if found is None:
        if _coverage(samples, start_s - tolerance_s, ratings.interval_s) < MIN_COVERAGE:
            return WitnessView(
                ENERGY_WITNESS, "undecided", "too many polls after the start time lost"
            )
        return WitnessView(ENERGY_WITNESS, "none", "the counter shows no heating after the start")
    a, b = found
    # At rated power the rise dates the start within the interval.
    onset = max(a.elapsed_s, b.elapsed_s - _rise(a, b) * 3600.0 / ratings.rated_w)
    late = onset - start_s
    if is_gap(a, b, ratings.interval_s):
        # Across lost polls only bounds hold: the heating ran at least as long as the rise
        # takes at the most a heat pump draws, and it cannot have started before ``a``.
        latest = b.elapsed_s - _rise(a, b) * 3600.0 / (JUMP_FACTOR * ratings.rated_w)
        if latest - start_s <= tolerance_s:
            late = min(late, latest - start_s)
        elif a.elapsed_s - start_s <= tolerance_s:
            return WitnessView(
                ENERGY_WITNESS,
                "undecided",
                f"heating first seen across lost polls ({show(a, b)}): it may have started in time",
                _records(a, b),
            )
    if late <= tolerance_s:
        return WitnessView(
            ENERGY_WITNESS, "on-time", f"on time ({show(a, b)})", _records(a, b), late
        )
    return WitnessView(
        ENERGY_WITNESS,
        "late",
        f"heating first {show(a, b)}, about {late / 60:.0f} min after the start time",
        _records(a, b),
        late,
    )


# -- do the witnesses agree? (*-2.4) -------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """Two witnesses that contradict each other, or a counter that went back or jumped."""

    #: "status-power", "power-energy", "counter-backwards" or "counter-jump".
    rule: str
    #: One line with both readings.
    summary: str
    records: tuple[int, ...] = ()
    #: False: the contradiction could lie in what lost polls hid (too wide a gap to judge).
    certain: bool = True


def disagreements(samples: Sequence[HeaterSample], ratings: HeaterRatings) -> list[Disagreement]:
    """Where the witnesses of one series contradict each other: the heating status against the
    power read with it, the counter against the power readings over windows of an hour, and the
    counter going back or jumping (a reset at a DR start shows here)."""
    witnesses = offered(samples)
    found: list[Disagreement] = []
    if STATUS_WITNESS in witnesses and POWER_WITNESS in witnesses:
        found += _status_against_power(samples, ratings)
    if ENERGY_WITNESS in witnesses:
        found += _counter_moves(samples, ratings)
        if POWER_WITNESS in witnesses:
            found += _power_against_energy(samples, ratings)
    return found


def _status_against_power(
    samples: Sequence[HeaterSample], ratings: HeaterRatings
) -> list[Disagreement]:
    rated = ratings.rated_w
    idle_w = ratings.tolerances.power_w

    def settled(index: int) -> bool:
        # A reading next to a change of the status may catch the power still ramping.
        heating = samples[index].status.heating
        near = samples[max(0, index - 1) : index + 2]
        return all(s.status.heating == heating for s in near)

    on = [i for i, s in enumerate(samples) if s.status.heating and settled(i)]
    off = [i for i, s in enumerate(samples) if not s.status.heating and settled(i)]
    band = ratings.allowed_on_w
    wrong_on = [samples[i] for i in on if abs(samples[i].status.power_w - rated) > band]
    wrong_off = [samples[i] for i in off if samples[i].status.power_w > idle_w]
    found: list[Disagreement] = []
    if wrong_on:
        first = wrong_on[0]
        found.append(
            Disagreement(
                "status-power",
                f"{WITNESS_LABELS[STATUS_WITNESS]} says heating but {WITNESS_LABELS[POWER_WITNESS]}"
                f" reads {first.status.power_w:.0f} W at {_at(first)} (heating should read "
                f"{rated:.0f} W ± {ratings.allowed_on_w:.0f} W); {len(wrong_on)} of {len(on)} "
                "heating readings so",
                _records(first),
            )
        )
    if wrong_off:
        first = wrong_off[0]
        found.append(
            Disagreement(
                "status-power",
                f"{WITNESS_LABELS[STATUS_WITNESS]} says not heating but "
                f"{WITNESS_LABELS[POWER_WITNESS]} reads {first.status.power_w:.0f} W at "
                f"{_at(first)} (idle should read ≤ {idle_w:.0f} W); {len(wrong_off)} of "
                f"{len(off)} idle readings so",
                _records(first),
            )
        )
    return found


def _counter_moves(samples: Sequence[HeaterSample], ratings: HeaterRatings) -> list[Disagreement]:
    label = WITNESS_LABELS[ENERGY_WITNESS]
    back = [(a, b) for a, b in pairwise(samples) if _rise(a, b) < -COUNTER_RESOLUTION_WH]
    jumps = [
        (a, b)
        for a, b in pairwise(samples)
        if _rise(a, b) > ratings.max_rise_wh(b.elapsed_s - a.elapsed_s)
    ]
    found: list[Disagreement] = []
    if back:
        a, b = back[0]
        found.append(
            Disagreement(
                "counter-backwards",
                f"{label} went back from {a.status.energy_wh / 1000:.3f} kWh at {_at(a)} to "
                f"{b.status.energy_wh / 1000:.3f} kWh at {_at(b)} ({len(back)} time(s)); a "
                "cumulative counter never goes back",
                _records(a, b),
            )
        )
    if jumps:
        a, b = jumps[0]
        seconds = b.elapsed_s - a.elapsed_s
        found.append(
            Disagreement(
                "counter-jump",
                f"{label} rose {_rise(a, b):.0f} Wh from {_at(a)} to {_at(b)} ({seconds:.0f} s), "
                f"more than the rated {ratings.rated_w:.0f} W can draw in that time "
                f"(at most {ratings.max_rise_wh(seconds):.0f} Wh allowed); {len(jumps)} time(s)",
                _records(a, b),
            )
        )
    return found


def _power_against_energy(
    samples: Sequence[HeaterSample], ratings: HeaterRatings
) -> list[Disagreement]:
    """Compare, window by window, the counter's rise with the power readings' integral."""
    found: list[Disagreement] = []
    window: list[tuple[HeaterSample, HeaterSample]] = []
    for a, b in pairwise(samples):
        if not _counter_sound(a, b, ratings):
            # A counter that went back or jumped is its own finding; compare around it.
            found += _compare_window(window, ratings)
            window = []
            continue
        window.append((a, b))
        if window[-1][1].elapsed_s - window[0][0].elapsed_s >= AGREEMENT_WINDOW_S:
            found += _compare_window(window, ratings)
            window = []
    if window and window[-1][1].elapsed_s - window[0][0].elapsed_s >= SHORTEST_WINDOW_S:
        found += _compare_window(window, ratings)
    # One finding of each certainty says enough: the rest of the windows repeat it.
    certain = [d for d in found if d.certain and d.rule == "power-energy"]
    uncertain = [d for d in found if not d.certain]
    return certain[:1] + (uncertain[:1] if not certain else [])


def _compare_window(
    window: Sequence[tuple[HeaterSample, HeaterSample]], ratings: HeaterRatings
) -> list[Disagreement]:
    if not window:
        return []
    counted = sum(_rise(a, b) for a, b in window)
    integrated = 0.0
    slack = 0.0  # what the trapezoid may miss where the power changed between two readings
    hidden = 0.0  # what lost polls may hide
    for a, b in window:
        seconds = b.elapsed_s - a.elapsed_s
        integrated += (a.status.power_w + b.status.power_w) / 2.0 * seconds / 3600.0
        slack += abs(b.status.power_w - a.status.power_w) / 2.0 * seconds / 3600.0
        if is_gap(a, b, ratings.interval_s):
            hidden += ratings.rated_w * seconds / 3600.0
    larger = max(counted, integrated)
    allowed = max(ratings.tolerances.energy_allowed_wh(larger), HEATING_POWER_BAND * larger) + slack
    difference = abs(counted - integrated)
    if difference <= allowed:
        return []
    first, last = window[0][0], window[-1][1]
    hours = max(last.elapsed_s - first.elapsed_s, 1e-9) / 3600.0
    summary = (
        f"from {_at(first)} to {_at(last)} the {WITNESS_LABELS[ENERGY_WITNESS]} rose "
        f"{counted:.0f} Wh ({counted / hours:.0f} W on average) while the "
        f"{WITNESS_LABELS[POWER_WITNESS]} readings add up to {integrated:.0f} Wh "
        f"({integrated / hours:.0f} W on average); allowed difference {allowed:.0f} Wh"
    )
    if difference > allowed + hidden:
        return [Disagreement("power-energy", summary, _records(first, last))]
    return [
        Disagreement(
            "power-energy",
            f"{summary}, but polls lost in between may hide up to {hidden:.0f} Wh",
            _records(first, last),
            certain=False,
        )
    ]


# -- energy drawn ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy drawn over chosen intervals of a series, and how far off it may be."""

    wh: float
    #: What lost polls (power integrated across a gap) may hide: the figure is wh ± this.
    uncertainty_wh: float
    #: Intervals where the counter could not be used (went back or jumped) and the power
    #: readings stood in: a *-2.4 matter, said in one line each.
    substituted: tuple[str, ...] = ()


def energy_drawn(
    samples: Sequence[HeaterSample],
    ratings: HeaterRatings,
    include: Callable[[HeaterSample, HeaterSample], bool] = lambda a, b: True,
) -> EnergyEstimate:
    """Electric energy over the intervals ``include`` picks: the counter's rise where it is
    sound (a cumulative counter is exact across lost polls), else the power readings'
    trapezoid, with the uncertainty a gap in them leaves."""
    witnesses = offered(samples)
    counter = ENERGY_WITNESS in witnesses
    power = POWER_WITNESS in witnesses
    total = 0.0
    uncertainty = 0.0
    substituted: list[str] = []
    for a, b in pairwise(samples):
        if not include(a, b):
            continue
        seconds = b.elapsed_s - a.elapsed_s
        if counter and _counter_sound(a, b, ratings):
            total += max(0.0, _rise(a, b))
            continue
        if counter:
            substituted.append(
                f"{WITNESS_LABELS[ENERGY_WITNESS]} moved {_rise(a, b):+.0f} Wh from {_at(a)} to "
                f"{_at(b)}; the power readings stood in"
            )
        if power:
            total += (a.status.power_w + b.status.power_w) / 2.0 * seconds / 3600.0
            if is_gap(a, b, ratings.interval_s):
                uncertainty += ratings.rated_w * seconds / 3600.0
            else:
                uncertainty += abs(b.status.power_w - a.status.power_w) / 2.0 * seconds / 3600.0
        else:
            uncertainty += ratings.rated_w * seconds / 3600.0
    return EnergyEstimate(total, uncertainty, tuple(substituted))
