"""BAT-2.2 and BAT-2.5 against an independent power meter: what the device says it does is
compared with what a meter of the lab's own measures (profile [meter]), within its accuracy.

The two witnesses are compared only where they were read at nearly one instant: during a ramp,
a reading taken seconds after the other (a lost attempt, a timeout and a retry between them)
differs by the ramp, not by a fault. Such a pair is a gap, noted in the evidence; when too few
comparable pairs remain, the test is inconclusive (the exchanges failed, cause *-1.1), never a
fail. Even read back to back, the two readings are an exchange apart (a device or meter that
takes a few hundred milliseconds to answer is ordinary), and a ramp moves the power by tens of
watts in that time: a reading the meter's neighbouring readings do not bracket within its
accuracy was taken while the power moved, and is not compared either. A device that lies about
its power lies when it holds it too.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from drready.suites.battery.helpers import OWN_WINDOW_S, plan_power

from drready.bindings.types import Sample
from drready.device import BatteryDUT
from drready.errors import Inconclusive
from drready.profile import Profile

#: Device time the DR runs while both witnesses are read.
WINDOW_S = 1800.0
#: Device seconds between the device's power reading and the meter's beyond which the pair is
#: not compared (a gap): an exchange takes milliseconds, a lost attempt a whole timeout.
MAX_PAIR_LAG_S = 1.0
#: The share of the window's readings that must be comparable pairs for a verdict.
MIN_COMPARABLE_SHARE = 0.5
#: The cause when lost exchanges leave too few comparable pairs.
EXCHANGE_CAUSE = "*-1.1"


def pair_lag_s(sample: Sample, time_scale: float) -> float | None:
    """Device seconds between the two witnesses' readings (None: the binding does not time
    them, and they are taken as one reading, as it reads them back to back)."""
    lag = sample.status.meter_lag_s
    return None if lag is None else lag * time_scale


def comparable(
    samples: list[Sample], time_scale: float, max_lag_s: float = MAX_PAIR_LAG_S
) -> tuple[list[Sample], list[tuple[Sample, float]]]:
    """The samples whose two readings are close enough in time to compare, and the others with
    their lag (device seconds)."""
    kept: list[Sample] = []
    torn: list[tuple[Sample, float]] = []
    for sample in samples:
        lag = pair_lag_s(sample, time_scale)
        if lag is not None and lag > max_lag_s:
            torn.append((sample, lag))
        else:
            kept.append(sample)
    return kept, torn


def moving(samples: list[Sample], allowed_w: Callable[[float], float]) -> list[Sample]:
    """The samples taken while the power moved: the meter's reading before or after differs
    from this one's by more than the meter's accuracy."""
    found: list[Sample] = []
    for index, sample in enumerate(samples):
        measured = sample.status.meter_power_w
        if measured is None:
            continue
        neighbours = samples[max(0, index - 1) : index] + samples[index + 1 : index + 2]
        for other in neighbours:
            theirs = other.status.meter_power_w
            if theirs is not None and abs(theirs - measured) > allowed_w(measured):
                found.append(sample)
                break
    return found


def meter_duration_s(profile: Profile) -> float:
    """Nothing without a meter (the test is skipped); else the own mode watched, the DR."""
    return 0.0 if profile.meter is None else OWN_WINDOW_S + WINDOW_S


@pytest.mark.requirement("BAT-2.2", "BAT-2.5")
@pytest.mark.duration(seconds=meter_duration_s)
def test_reported_power_matches_the_independent_meter(dut: BatteryDUT, test_power_w: float) -> None:
    meter = dut.profile.meter
    if meter is None:
        pytest.skip("no independent meter in the profile ([meter]): power not witnessed")
    timings = dut.profile.timings
    dut.prepare()
    plan = plan_power(dut, test_power_w, WINDOW_S)
    target = plan.target_w
    ack = dut.request_power(target, WINDOW_S + timings.response_s)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    samples = dut.sample(WINDOW_S)
    for sample in samples:
        assert sample.status.meter_power_w is not None, "the meter gave no reading"
    kept, torn = comparable(samples, dut.time_scale)
    for sample, lag in torn:
        dut.note(
            f"at +{sample.elapsed_s:.0f} s the meter was read {lag:.1f} s after the device "
            f"(more than {MAX_PAIR_LAG_S:.0f} s: an exchange was lost between them): a gap, "
            "not compared"
        )
    ramping = {id(sample) for sample in moving(samples, meter.allowed_w)}
    for sample in kept:
        if id(sample) in ramping:
            dut.note(
                f"at +{sample.elapsed_s:.0f} s the power was moving (the meter's readings "
                "around it differ by more than its accuracy): not compared"
            )
    kept = [sample for sample in kept if id(sample) not in ramping]
    expected = max(1, round(WINDOW_S / timings.poll_interval_s) + 1)
    if len(kept) < MIN_COMPARABLE_SHARE * expected:
        raise Inconclusive(
            f"only {len(kept)} of the {expected} polls gave the device's power and the meter's "
            f"within {MAX_PAIR_LAG_S:.0f} s of each other ({len(torn)} pairs read apart, "
            f"{expected - len(samples)} polls lost): too few to judge",
            cause=EXCHANGE_CAUSE,
        )
    flowing = 0
    for sample in kept:
        reported, measured = sample.status.power_w, sample.status.meter_power_w
        assert measured is not None
        allowed = meter.allowed_w(measured)
        assert abs(reported - measured) <= allowed, (
            f"at +{sample.elapsed_s:.0f} s the device reports {reported:+.0f} W, the independent "
            f"meter measures {measured:+.0f} W (allowed ± {allowed:.0f} W)"
        )
        flowing += abs(measured) > dut.profile.tolerances.power_w
    assert flowing, f"the meter saw no power flow during a DR of {target:+.0f} W"
