"""Analyses of measured series that the suites assert on, with failure text in plain words.

Each function returns ``None`` when the check holds, or a sentence saying what was expected and
what was seen, and when. The suites assert on that sentence, so a failure reads like a lab note.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise

from drready.bindings.types import Sample


def at(sample: Sample) -> str:
    """'+123 s (2027-04-01T00:02:03Z)': elapsed time in the window and the clock time."""
    stamp = datetime.fromtimestamp(sample.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"+{sample.elapsed_s:.0f} s ({stamp})"


def settles(
    samples: Sequence[Sample], target_w: float, allowed_w: float, within_s: float
) -> tuple[Sample | None, str | None]:
    """The first sample within ``allowed_w`` of ``target_w``, which must come by ``within_s``."""
    for sample in samples:
        if abs(sample.status.power_w - target_w) <= allowed_w:
            if sample.elapsed_s <= within_s:
                return sample, None
            return sample, (
                f"expected power {target_w:+.0f} W ± {allowed_w:.0f} W within {within_s:.0f} s "
                f"of the request; it first got there at {at(sample)}"
            )
    closest = min(samples, key=lambda s: abs(s.status.power_w - target_w))
    return None, (
        f"expected power {target_w:+.0f} W ± {allowed_w:.0f} W within {within_s:.0f} s of the "
        f"request; never reached: closest {closest.status.power_w:+.0f} W at {at(closest)}"
    )


def holds(
    samples: Sequence[Sample], target_w: float, allowed_w: float, start_s: float, end_s: float
) -> str | None:
    """Every sample in [start_s, end_s] stays within ``allowed_w`` of ``target_w``."""
    for sample in samples:
        if (
            start_s <= sample.elapsed_s <= end_s
            and abs(sample.status.power_w - target_w) > allowed_w
        ):
            return (
                f"expected power to hold at {target_w:+.0f} W ± {allowed_w:.0f} W until "
                f"+{end_s:.0f} s; it read {sample.status.power_w:+.0f} W at {at(sample)}"
            )
    return None


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


def integrate_wh(samples: Sequence[Sample]) -> tuple[float, float]:
    """(charged Wh, discharged Wh) by the trapezoid rule over the reported power."""
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
