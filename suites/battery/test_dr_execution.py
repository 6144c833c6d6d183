"""BAT-2.2: the battery charges/discharges according to the target power and the duration.

Execution is judged from every witness the device offers (power, energy counters, working
status, the lab's meter), by those that agree (:meth:`BatteryDUT.execution`); a target is chosen
clearly apart from what the own mode draws at the time, so reaching it is the DR's doing.
"""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import plan_power

from drready.bindings.types import Sample
from drready.device import BatteryDUT, checks
from drready.errors import Inconclusive

#: SoC (0xE4, whole percent) this close to the reserve or to full means the battery ran out of
#: room: a stop there is BAT-2.4's business (or simply full), not a missed target.
LIMIT_MARGIN_PCT = 1.0


def _out_of_room(sample: Sample, target_w: float) -> str | None:
    status = sample.status
    if target_w < 0 and status.soc_pct <= status.reserve_pct + LIMIT_MARGIN_PCT:
        return (
            f"the discharge reached the backup reserve ({status.soc_pct:.0f} % at "
            f"{checks.at(sample)}, reserve {status.reserve_pct:.0f} %)"
        )
    if target_w > 0 and status.soc_pct >= 100.0 - LIMIT_MARGIN_PCT:
        return f"the battery was full ({status.soc_pct:.0f} % at {checks.at(sample)})"
    return None


@pytest.mark.requirement("BAT-2.2")
def test_power_reaches_target_within_response_time_and_holds(
    dut: BatteryDUT, test_power_w: float
) -> None:
    timings = dut.profile.timings
    dut.prepare()
    duration_s = max(3600.0, 2 * timings.response_s)
    plan = plan_power(dut, test_power_w, duration_s)
    target = plan.target_w
    ack = dut.request_power(target, duration_s)
    assert ack.accepted, f"the DR request {target:+.0f} W was not accepted: {ack.detail}"
    # Stop one poll short of the end: the device may already be ramping down at the last tick.
    samples = dut.sample(duration_s - 2 * timings.poll_interval_s)
    judged = dut.execution(samples)
    allowed = dut.profile.tolerances.power_allowed_w(target) + judged.resolution_w
    witness = f" (by the {judged.witness}; before the request the own mode drew {plan.own_text()})"
    series = judged.series
    settled, problem = checks.settles(series, target, allowed, timings.response_s, dut.max_gap_s)
    assert problem is None, problem + witness
    assert settled is not None
    dut.record_metric("response_s", settled.elapsed_s, "s")
    departed = checks.departure(series, target, allowed, settled.elapsed_s, series[-1].elapsed_s)
    if departed is not None:
        limit = _out_of_room(departed, target)
        if limit is not None:
            raise Inconclusive(
                f"{limit}: the plan ran out of energy before the DR of {target:+.0f} W for "
                f"{duration_s:.0f} s ended, so holding the target cannot be judged"
            )
    problem = checks.holds(series, target, allowed, settled.elapsed_s, series[-1].elapsed_s)
    assert problem is None, problem + witness


@pytest.mark.requirement("BAT-2.2")
def test_target_beyond_rating_is_clamped_or_refused(dut: BatteryDUT) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    timings = dut.profile.timings
    dut.prepare()
    window_s = timings.response_s + 300.0
    rated = min(ratings.max_charge_w, ratings.max_discharge_w)
    plan = plan_power(dut, 1.5 * rated, window_s)
    target = plan.target_w
    limit = ratings.max_charge_w if target > 0 else ratings.max_discharge_w
    dut.request_power(target, window_s + 600.0)  # refusing is as good as clamping
    samples = dut.sample(window_s)
    judged = dut.execution(samples)
    allowed = dut.profile.tolerances.power_allowed_w(limit) + judged.resolution_w
    problem = checks.never_exceeds(judged.series, limit, allowed)
    assert problem is None, (
        f"asked for {target:+.0f} W, beyond the rating: {problem} (by the {judged.witness})"
    )
