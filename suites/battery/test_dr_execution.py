"""BAT-2.2: the battery charges/discharges according to the target power and the duration.

Execution is judged from every witness the device offers (power, energy counters, working
status, the lab's meter), by those that agree (:meth:`BatteryDUT.execution`); a target is chosen
clearly apart from what the own mode draws at the time, so reaching it is the DR's doing.
"""

from __future__ import annotations

import pytest
from drready.suites.battery.helpers import (
    OWN_WINDOW_S,
    SharedScenarios,
    plan_power,
    request_series,
    series_duration_s,
)

from drready.bindings.types import Sample
from drready.device import BatteryDUT, checks
from drready.errors import Inconclusive
from drready.profile import Profile

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
@pytest.mark.duration(seconds=series_duration_s, shared="request series")
def test_power_reaches_target_within_response_time_and_holds(
    dut: BatteryDUT,
    test_power_w: float,
    shared_scenarios: SharedScenarios,
    request: pytest.FixtureRequest,
) -> None:
    # The first request of BAT-2.1's series, held until the second one: the declared request
    # interval (at least twice the response time) is this DR's duration as far as it is judged.
    timings = dut.profile.timings
    series = request_series(dut, shared_scenarios, test_power_w, request.node.nodeid)
    first = series.steps[0]
    if not first.ack.accepted:
        raise Inconclusive(
            f"the DR request {first.target_w:+.0f} W was not accepted ({first.ack.detail}): its "
            "execution cannot be judged",
            cause="BAT-2.1",
        )
    plan, target = series.plan, first.target_w
    samples = list(series.first_window)
    window_s = samples[-1].elapsed_s if samples else 0.0
    judged = dut.execution(samples)
    allowed = dut.profile.tolerances.power_allowed_w(target) + judged.resolution_w
    witness = f" (by the {judged.witness}; before the request the own mode drew {plan.own_text()})"
    series_of = judged.series
    settled, problem = checks.settles(series_of, target, allowed, timings.response_s, dut.max_gap_s)
    assert problem is None, problem + witness
    assert settled is not None
    dut.record_metric("response_s", settled.elapsed_s, "s")
    end_s = series_of[-1].elapsed_s
    departed = checks.departure(series_of, target, allowed, settled.elapsed_s, end_s)
    if departed is not None:
        limit = _out_of_room(departed, target)
        if limit is not None:
            raise Inconclusive(
                f"{limit}: the plan ran out of energy before the DR of {target:+.0f} W had run "
                f"{window_s:.0f} s, so holding the target cannot be judged"
            )
    problem = checks.holds(series_of, target, allowed, settled.elapsed_s, end_s)
    assert problem is None, problem + witness


CLAMP_EXTRA_S = 300.0


def clamp_duration_s(profile: Profile) -> float:
    return OWN_WINDOW_S + profile.timings.response_s + CLAMP_EXTRA_S


@pytest.mark.requirement("BAT-2.2")
@pytest.mark.duration(seconds=clamp_duration_s)
def test_target_beyond_rating_is_clamped_or_refused(dut: BatteryDUT) -> None:
    ratings = dut.profile.ratings
    assert ratings is not None
    timings = dut.profile.timings
    dut.prepare()
    window_s = timings.response_s + CLAMP_EXTRA_S
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
