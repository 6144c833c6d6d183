"""Analyses of measured series that the suites assert on, with failure text in plain words.

Each function returns ``None`` when the check holds, or a sentence saying what was expected and
what was seen, and when. The suites assert on that sentence, so a failure reads like a lab note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from drready.bindings.types import Sample
from drready.errors import Inconclusive

if TYPE_CHECKING:
    from drready.profile import Tolerances

#: The cause named when lost polls leave a series too thin to judge: the exchanges failed.
EXCHANGE_CAUSE = "*-1.1"


def at(sample: Sample) -> str:
    """'+123 s (2027-04-01T00:02:03Z)': elapsed time in the window and the clock time."""
    stamp = datetime.fromtimestamp(sample.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"+{sample.elapsed_s:.0f} s ({stamp})"


def widest_gap(samples: Sequence[Sample]) -> tuple[Sample, Sample] | None:
    """The two neighbouring readings furthest apart (lost polls between them), if any."""
    pairs = list(pairwise(samples))
    if not pairs:
        return None
    return max(pairs, key=lambda pair: pair[1].elapsed_s - pair[0].elapsed_s)


def require_no_wide_gap(samples: Sequence[Sample], max_gap_s: float, what: str) -> None:
    """Raise :class:`Inconclusive` if lost polls left a gap wider than ``max_gap_s`` in the
    series: ``what`` (an energy integral, say) cannot be judged across it."""
    widest = widest_gap(samples)
    if widest is None:
        return
    before, after = widest
    if after.elapsed_s - before.elapsed_s > max_gap_s:
        raise Inconclusive(
            f"{what}: no reading between {at(before)} and {at(after)} (polls lost), a gap of "
            f"{after.elapsed_s - before.elapsed_s:.0f} s, more than the {max_gap_s:.0f} s it can "
            "be judged across",
            cause=EXCHANGE_CAUSE,
        )


def settles(
    samples: Sequence[Sample],
    target_w: float,
    allowed_w: float,
    within_s: float,
    max_gap_s: float | None = None,
) -> tuple[Sample | None, str | None]:
    """The first sample within ``allowed_w`` of ``target_w``, which must come by ``within_s``.

    With ``max_gap_s``: when the first sample in the band comes late, but polls were lost just
    before it (a gap wider than ``max_gap_s`` opening before ``within_s``), the device may have
    got there in time unseen: :class:`Inconclusive`, not a fail.
    """
    previous: Sample | None = None
    for sample in samples:
        if abs(sample.status.power_w - target_w) <= allowed_w:
            if sample.elapsed_s <= within_s:
                return sample, None
            if (
                max_gap_s is not None
                and previous is not None
                and previous.elapsed_s <= within_s
                and sample.elapsed_s - previous.elapsed_s > max_gap_s
            ):
                raise Inconclusive(
                    f"power {target_w:+.0f} W first seen at {at(sample)}, after the response "
                    f"time of {within_s:.0f} s; the polls from {at(previous)} on were lost, so "
                    "it may have got there in time",
                    cause=EXCHANGE_CAUSE,
                )
            return sample, (
                f"expected power {target_w:+.0f} W ± {allowed_w:.0f} W within {within_s:.0f} s "
                f"of the request; it first got there at {at(sample)}"
            )
        previous = sample
    closest = min(samples, key=lambda s: abs(s.status.power_w - target_w))
    return None, (
        f"expected power {target_w:+.0f} W ± {allowed_w:.0f} W within {within_s:.0f} s of the "
        f"request; never reached: closest {closest.status.power_w:+.0f} W at {at(closest)}"
    )


def departure(
    samples: Sequence[Sample], target_w: float, allowed_w: float, start_s: float, end_s: float
) -> Sample | None:
    """The first sample in [start_s, end_s] further than ``allowed_w`` from ``target_w``."""
    for sample in samples:
        if (
            start_s <= sample.elapsed_s <= end_s
            and abs(sample.status.power_w - target_w) > allowed_w
        ):
            return sample
    return None


def holds(
    samples: Sequence[Sample], target_w: float, allowed_w: float, start_s: float, end_s: float
) -> str | None:
    """Every sample in [start_s, end_s] stays within ``allowed_w`` of ``target_w``."""
    sample = departure(samples, target_w, allowed_w, start_s, end_s)
    if sample is None:
        return None
    return (
        f"expected power to hold at {target_w:+.0f} W ± {allowed_w:.0f} W until "
        f"+{end_s:.0f} s; it read {sample.status.power_w:+.0f} W at {at(sample)}"
    )


def never_exceeds(samples: Sequence[Sample], limit_w: float, allowed_w: float) -> str | None:
    for sample in samples:
        if abs(sample.status.power_w) > limit_w + allowed_w:
            return (
                f"expected |power| ≤ rated {limit_w:.0f} W (+{allowed_w:.0f} W tolerance); "
                f"it read {sample.status.power_w:+.0f} W at {at(sample)}"
            )
    return None


def monotonic_counters(samples: Sequence[Sample]) -> str | None:
    for before, after in pairwise(samples):
        for name in ("charged_wh", "discharged_wh"):
            old, new = getattr(before.status, name), getattr(after.status, name)
            if old is not None and new is not None and new < old:
                label = "charge" if name == "charged_wh" else "discharge"
                return (
                    f"expected the cumulative {label} energy counter never to decrease; it went "
                    f"from {old:.0f} Wh at {at(before)} to {new:.0f} Wh at {at(after)}"
                )
    return None


def integrate_wh(samples: Sequence[Sample], max_gap_s: float | None = None) -> tuple[float, float]:
    """(charged Wh, discharged Wh) by the trapezoid rule over the reported power.

    With ``max_gap_s``, a gap of lost polls wider than that makes the integral
    :class:`Inconclusive` rather than a guess.
    """
    if max_gap_s is not None:
        require_no_wide_gap(samples, max_gap_s, "the energy integral of the reported power")
    charged = discharged = 0.0
    for before, after in pairwise(samples):
        dt_h = (after.elapsed_s - before.elapsed_s) / 3600.0
        energy = (before.status.power_w + after.status.power_w) / 2.0 * dt_h
        if energy >= 0:
            charged += energy
        else:
            discharged -= energy
    return charged, discharged


def power_sign_matches_counters(samples: Sequence[Sample], threshold_w: float) -> str | None:
    """Where power flows steadily one way, the matching energy counter is the one that rises.

    Only intervals whose two ends both read beyond ``threshold_w`` with the same sign are judged,
    and only when the energy moved is well above the counters' 1 Wh step.
    """
    for before, after in pairwise(samples):
        p0, p1 = before.status.power_w, after.status.power_w
        if min(abs(p0), abs(p1)) <= threshold_w or (p0 > 0) != (p1 > 0):
            continue
        c0, c1 = before.status.charged_wh, after.status.charged_wh
        d0, d1 = before.status.discharged_wh, after.status.discharged_wh
        if c0 is None or c1 is None or d0 is None or d1 is None:
            return None  # a device without energy counters: nothing to compare
        charged, discharged = c1 - c0, d1 - d0
        if max(charged, discharged) < 3.0:
            continue  # too little energy in this interval to tell the counters apart
        if (p0 > 0) != (charged > discharged):
            rising = "charge" if charged > discharged else "discharge"
            return (
                f"reported power {p0:+.0f} W → {p1:+.0f} W between {at(before)} and {at(after)}, "
                f"but the {rising} counter is the one that rose ({charged:.0f} Wh charged, "
                f"{discharged:.0f} Wh discharged): the sign of the power is wrong"
            )
    return None


# -- several witnesses of execution ----------------------------------------------------------
# A battery says what it does in several ways: its instantaneous power (0xD3), its cumulative
# energy counters (0xA8/0xA9), its working status (0xCF), and beside it may stand the lab's own
# meter. Execution (BAT-2.2) is judged from the witnesses that agree; witnesses that disagree are
# a finding against the reporting requirement (BAT-2.5), with both readings.

#: Witnesses are compared over windows of this many device seconds.
AGREEMENT_WINDOW_S = 300.0
#: Counters read at both ends of a window are each off by up to their 1 Wh step.
COUNTER_STEP_WH = 2.0
#: The power the counters show, as a series: the mean over the trailing window this long.
COUNTER_SERIES_WINDOW_S = 120.0
#: A witness is out of step when it disagrees in more than this share of the windows judged.
DISAGREEING_SHARE = 1 / 3
#: Device seconds between a sample's power reading and its meter reading beyond which the two
#: are not compared: an exchange takes milliseconds, a lost attempt and its retry a timeout,
#: and a ramp moves the power by hundreds of watts in that time.
MAX_PAIR_LAG_S = 1.0

_DIRECTIONS = {"charging": 1, "rapidCharging": 1, "discharging": -1}


def direction(power_w: float, threshold_w: float) -> int:
    """+1 charging, -1 discharging, 0 neither (within ``threshold_w`` of rest)."""
    if power_w > threshold_w:
        return 1
    if power_w < -threshold_w:
        return -1
    return 0


def _power_mean_w(window: Sequence[Sample], power: Callable[[Sample], float | None]) -> float:
    energy = 0.0
    for before, after in pairwise(window):
        p0, p1 = power(before), power(after)
        assert p0 is not None and p1 is not None
        energy += (p0 + p1) / 2.0 * (after.elapsed_s - before.elapsed_s)
    return energy / (window[-1].elapsed_s - window[0].elapsed_s)


def _counter_mean_w(first: Sample, last: Sample) -> float | None:
    """Mean power (+ charging) by the counters between two readings; None without counters or
    across a counter that went back (a BAT-2.5 matter of its own)."""
    a, b = first.status, last.status
    if a.charged_wh is None or a.discharged_wh is None:
        return None
    if b.charged_wh is None or b.discharged_wh is None:
        return None
    charged, discharged = b.charged_wh - a.charged_wh, b.discharged_wh - a.discharged_wh
    if charged < 0 or discharged < 0:
        return None
    return (charged - discharged) * 3600.0 / (last.elapsed_s - first.elapsed_s)


def _status_direction(window: Sequence[Sample]) -> int:
    """What the working status says over the window, when most readings name one direction."""
    votes = [_DIRECTIONS.get(s.status.working_status or "", 0) for s in window]
    for sign in (1, -1):
        if votes.count(sign) * 2 > len(votes):
            return sign
    return 0


def _windows(samples: Sequence[Sample], length_s: float, max_gap_s: float) -> list[list[Sample]]:
    """Consecutive windows of about ``length_s``, sharing their end readings; a window with a
    gap of lost polls wider than ``max_gap_s`` is left out (judged around, not across)."""
    windows: list[list[Sample]] = []
    current: list[Sample] = []
    for sample in samples:
        if current and sample.elapsed_s - current[-1].elapsed_s > max_gap_s:
            current = []
        current.append(sample)
        if current[-1].elapsed_s - current[0].elapsed_s >= length_s - 1e-9:
            windows.append(current)
            current = [sample]
    return windows


@dataclass(frozen=True)
class Disagreement:
    """Two witnesses of the same flow that do not agree: a BAT-2.5 finding."""

    #: Which two: "power/meter" or "power/counters".
    witnesses: str
    summary: str
    records: tuple[int, ...]


@dataclass(frozen=True)
class Execution:
    """What the device did, by the witnesses that agree.

    ``series`` is the readings with ``power_w`` replaced by what the trusted witness says
    flowed; ``resolution_w`` is what that witness cannot resolve (add it to a tolerance);
    ``net_wh`` the energy it says went in (+) or out (-) over the whole series.
    """

    witness: str
    series: tuple[Sample, ...]
    resolution_w: float
    net_wh: float
    disagreements: tuple[Disagreement, ...]


def _counter_series(samples: Sequence[Sample], max_gap_s: float) -> list[Sample]:
    series: list[Sample] = []
    start = 0
    for index, sample in enumerate(samples):
        while (
            start + 1 < index
            and sample.elapsed_s - samples[start + 1].elapsed_s >= COUNTER_SERIES_WINDOW_S
        ):
            start += 1
        first = samples[start]
        span = sample.elapsed_s - first.elapsed_s
        if span < COUNTER_SERIES_WINDOW_S or span > COUNTER_SERIES_WINDOW_S + max_gap_s:
            continue
        mean = _counter_mean_w(first, sample)
        if mean is not None:
            series.append(replace(sample, status=replace(sample.status, power_w=mean)))
    return series


def _net_wh(samples: Sequence[Sample], witness: str) -> float:
    if len(samples) < 2:
        return 0.0
    if witness == "counters":
        first, last = samples[0].status, samples[-1].status
        assert first.charged_wh is not None and first.discharged_wh is not None
        assert last.charged_wh is not None and last.discharged_wh is not None
        return (last.charged_wh - first.charged_wh) - (last.discharged_wh - first.discharged_wh)
    charged, discharged = integrate_wh(samples)
    return charged - discharged


def _records(window: Sequence[Sample]) -> tuple[int, ...]:
    return tuple(s.record for s in (window[0], window[-1]) if s.record is not None)


def execution(
    samples: Sequence[Sample],
    tolerances: Tolerances,
    max_gap_s: float,
    meter_allowed_w: Callable[[float], float] | None = None,
    time_scale: float = 1.0,
) -> Execution:
    """Judge what flowed from every witness the readings carry.

    The lab's meter, where declared, outranks the device's own readings. Otherwise the
    instantaneous power is trusted unless the energy counters contradict it and the working
    status sides with the counters (the power then is the odd one out); a disagreement that the
    status does not settle leaves the power trusted, as the quantity the target is set in.
    Every disagreement is returned, for a BAT-2.5 finding, whichever witness is trusted.
    """
    threshold = tolerances.power_w
    windows = _windows(samples, AGREEMENT_WINDOW_S, max_gap_s)
    disagreements: list[Disagreement] = []
    has_meter = bool(samples) and all(s.status.meter_power_w is not None for s in samples)
    has_counters = bool(samples) and all(
        s.status.charged_wh is not None and s.status.discharged_wh is not None for s in samples
    )

    def power(sample: Sample) -> float | None:
        return sample.status.power_w

    def metered(sample: Sample) -> float | None:
        return sample.status.meter_power_w

    if has_meter and windows:
        meter_allowed = meter_allowed_w or tolerances.power_allowed_w
        off = []
        for whole in windows:
            # Only the pairs read at nearly one instant: a pair torn by a lost exchange
            # differs by the ramp between its two readings, not by a fault (the same rule as
            # the meter test's).
            window = [
                s for s in whole if (s.status.meter_lag_s or 0.0) * time_scale <= MAX_PAIR_LAG_S
            ]
            if len(window) < 2 or window[-1].elapsed_s <= window[0].elapsed_s:
                continue
            reported, measured = _power_mean_w(window, power), _power_mean_w(window, metered)
            if abs(reported - measured) > meter_allowed(measured):
                off.append((window, reported, measured))
        if off and len(off) > DISAGREEING_SHARE * len(windows):
            window, reported, measured = max(off, key=lambda o: abs(o[1] - o[2]))
            disagreements.append(
                Disagreement(
                    "power/meter",
                    f"between {at(window[0])} and {at(window[-1])} the device's power reads "
                    f"{reported:+.0f} W on average, the independent meter measures "
                    f"{measured:+.0f} W (allowed ± {meter_allowed(measured):.0f} W); they disagree "
                    f"in {len(off)} of {len(windows)} windows of {AGREEMENT_WINDOW_S:.0f} s",
                    _records(window),
                )
            )
            series = [
                replace(s, status=replace(s.status, power_w=s.status.meter_power_w or 0.0))
                for s in samples
            ]
            return Execution(
                "meter", tuple(series), 0.0, _net_wh(series, "meter"), tuple(disagreements)
            )
    if not has_counters or not windows:
        return Execution("power", tuple(samples), 0.0, _net_wh(samples, "power"), ())

    off_counters: list[tuple[list[Sample], float, float, int]] = []
    judged = 0
    votes = {"power": 0, "counters": 0}
    for window in windows:
        counted = _counter_mean_w(window[0], window[-1])
        if counted is None:
            continue
        judged += 1
        reported = _power_mean_w(window, power)
        hours = (window[-1].elapsed_s - window[0].elapsed_s) / 3600.0
        # In energy, as BAT-2.5 compares the counters with the power's integral: a counter that
        # updates in coarser steps than the poll is not a disagreement within that tolerance.
        largest_wh = max(abs(reported), abs(counted)) * hours
        allowed_wh = tolerances.energy_allowed_wh(largest_wh) + COUNTER_STEP_WH
        if abs(reported - counted) * hours <= allowed_wh:
            continue
        said = _status_direction(window)
        off_counters.append((window, reported, counted, said))
        by_power, by_counters = direction(reported, threshold), direction(counted, threshold)
        if said and by_power != by_counters:
            if said == by_counters:
                votes["counters"] += 1
            elif said == by_power:
                votes["power"] += 1
    trusted = "power"
    if off_counters and len(off_counters) > DISAGREEING_SHARE * judged:
        window, reported, counted, said = max(off_counters, key=lambda o: abs(o[1] - o[2]))
        status = {1: "charging", -1: "discharging", 0: "neither"}[said]
        if votes["counters"] > votes["power"]:
            trusted = "counters"
        disagreements.append(
            Disagreement(
                "power/counters",
                f"between {at(window[0])} and {at(window[-1])} the instantaneous power reads "
                f"{reported:+.0f} W on average while the cumulative energy counters moved "
                f"{counted * (window[-1].elapsed_s - window[0].elapsed_s) / 3600.0:+.0f} Wh, "
                f"i.e. {counted:+.0f} W; the working status says {status}; they disagree in "
                f"{len(off_counters)} of {judged} windows of {AGREEMENT_WINDOW_S:.0f} s "
                f"(execution judged by the {trusted})",
                _records(window),
            )
        )
    if trusted == "counters":
        series = _counter_series(samples, max_gap_s)
        resolution = COUNTER_STEP_WH * 3600.0 / COUNTER_SERIES_WINDOW_S
        return Execution(
            "counters",
            tuple(series),
            resolution,
            _net_wh(samples, "counters"),
            tuple(disagreements),
        )
    return Execution("power", tuple(samples), 0.0, _net_wh(samples, "power"), tuple(disagreements))
