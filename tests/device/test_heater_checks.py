"""The water heater's witness analyses on made-up series: each verdict and each contradiction,
shown on a device behaving rightly and on one behaving wrongly, and what lost polls change."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from drready.bindings.types import (
    ENERGY_WITNESS,
    HEATER_WITNESSES,
    POWER_WITNESS,
    STATUS_WITNESS,
    HeaterSample,
    HeaterStatus,
)
from drready.device.heater_checks import (
    HeaterRatings,
    disagreements,
    energy_drawn,
    judge_start,
    offered,
)
from drready.profile import Tolerances

RATED_W = 1300.0
STEP_S = 60.0
#: The request at 08:00, the DR start time at 13:00 (5 h later).
REQUEST_TOD_S = 8 * 3600.0
START_S = 5 * 3600.0
END_S = START_S + 2.5 * 3600.0
NIGHT = (23 * 3600.0, 7 * 3600.0)
RATINGS = HeaterRatings(RATED_W, STEP_S, Tolerances(power_w=100, energy_wh=50, time_s=300))


def heats_from(start_s: float, end_s: float = END_S) -> Callable[[float], bool]:
    return lambda t: start_s <= t < end_s


def series(
    heating: Callable[[float], bool],
    *,
    duration_s: float = START_S + 4 * 3600.0,
    power: Callable[[float, bool], float] | None = None,
    status: Callable[[float, bool], bool] | None = None,
    counter: Callable[[float, float], float] | None = None,
    lost: Callable[[float], bool] = lambda t: False,
    witnesses: Sequence[str] = HEATER_WITNESSES,
) -> list[HeaterSample]:
    """Readings every minute of a heat pump that heats at rated power when ``heating(t)``;
    ``power``, ``status`` and ``counter`` bend what it reports, ``lost`` drops polls."""
    samples: list[HeaterSample] = []
    energy = 0.0
    t = 0.0
    while t <= duration_s:
        if t > 0 and heating(t - STEP_S / 2):
            energy += RATED_W * STEP_S / 3600.0
        on = heating(t)
        reported_power = RATED_W if on else 0.0
        if power is not None:
            reported_power = power(t, on)
        reported_status = on if status is None else status(t, on)
        reported_energy = energy if counter is None else counter(t, energy)
        if not lost(t):
            reading = HeaterStatus(
                reported_power, reported_status, None, reported_energy, tuple(witnesses)
            )
            samples.append(HeaterSample(t, (REQUEST_TOD_S + t) % 86400.0, reading, len(samples)))
        t += STEP_S
    return samples


def judge(samples: Sequence[HeaterSample]) -> tuple[str, dict[str, str]]:
    judgement = judge_start(
        samples, start_s=START_S, tolerance_s=300.0, night=NIGHT, ratings=RATINGS
    )
    return judgement.outcome, {v.witness: v.verdict for v in judgement.views}


# -- *-2.3 by every witness --------------------------------------------------------------------


def test_a_start_on_time_passes_by_every_witness() -> None:
    outcome, views = judge(series(heats_from(START_S)))
    assert outcome == "pass"
    assert views == dict.fromkeys(HEATER_WITNESSES, "on-time")
    assert disagreements(series(heats_from(START_S)), RATINGS) == []


def test_a_constant_power_reading_does_not_fail_a_start_on_time() -> None:
    # Class 5 of issue 11: 0x84 reads 8 W throughout; 0x85 and 0xB2 show the heating.
    samples = series(heats_from(START_S), power=lambda t, on: 8.0)
    judgement = judge_start(
        samples, start_s=START_S, tolerance_s=300.0, night=NIGHT, ratings=RATINGS
    )
    assert judgement.outcome == "pass"
    assert [v.witness for v in judgement.dissent] == [POWER_WITNESS]
    assert "no heating" in judgement.text()
    rules = {d.rule for d in disagreements(samples, RATINGS)}
    assert rules == {"status-power", "power-energy"}
    found = {d.rule: d for d in disagreements(samples, RATINGS)}
    # Both readings are shown: the power read and the counter's rise over the same hour.
    assert "8 W" in found["status-power"].summary
    assert "1300 Wh" in found["power-energy"].summary and "8 Wh" in found["power-energy"].summary
    assert found["power-energy"].records


@pytest.mark.parametrize(
    ("heating", "verdict"),
    [
        (heats_from(START_S - 3600.0), "early"),
        (heats_from(START_S + 1800.0), "late"),
        (lambda t: False, "none"),
    ],
    ids=["an hour early", "half an hour late", "never"],
)
def test_a_start_every_witness_sees_wrong_fails(
    heating: Callable[[float], bool], verdict: str
) -> None:
    outcome, views = judge(series(heating))
    assert outcome == "fail"
    assert set(views.values()) == {verdict}


def test_heating_in_the_night_period_is_not_early() -> None:
    # Requested at 20:00 for 13:00 the next day; the night heating runs from 23:00 to 01:00.
    evening = [
        HeaterSample(s.elapsed_s, (20 * 3600.0 + s.elapsed_s) % 86400.0, s.status, s.record)
        for s in series(
            lambda t: 3 * 3600.0 <= t < 5 * 3600.0 or 17 * 3600.0 <= t < 19 * 3600.0,
            duration_s=21 * 3600.0,
        )
    ]
    judgement = judge_start(
        evening, start_s=17 * 3600.0, tolerance_s=300.0, night=NIGHT, ratings=RATINGS
    )
    assert judgement.outcome == "pass"


def test_two_witnesses_that_disagree_cannot_decide() -> None:
    samples = series(
        heats_from(START_S),
        power=lambda t, on: 0.0,
        witnesses=(POWER_WITNESS, STATUS_WITNESS),
    )
    outcome, views = judge(samples)
    assert outcome == "undecided"
    assert views == {POWER_WITNESS: "none", STATUS_WITNESS: "on-time"}


def test_a_counter_reset_at_the_start_leaves_the_start_on_time() -> None:
    # 0x85 showed 500 Wh before the DR and restarts from 0 when the DR heating starts.
    samples = series(heats_from(START_S), counter=lambda t, e: e + 500.0 if t < START_S else e)
    outcome, views = judge(samples)
    assert outcome == "pass" and views[ENERGY_WITNESS] == "on-time"
    assert [d.rule for d in disagreements(samples, RATINGS)] == ["counter-backwards"]


# -- lost polls ----------------------------------------------------------------------------------


def test_polls_lost_around_a_late_looking_start_leave_it_undecided() -> None:
    # Heating starts at 13:00 sharp; the polls from 12:58 to 13:10 are lost. The instant
    # witnesses first see it 11 min late, but it may have started in time.
    lost = heats_from(START_S - 120.0, START_S + 660.0)
    samples = series(heats_from(START_S), lost=lost, witnesses=(POWER_WITNESS, STATUS_WITNESS))
    outcome, views = judge(samples)
    assert views == {POWER_WITNESS: "undecided", STATUS_WITNESS: "undecided"}
    assert outcome == "undecided"


def test_the_counter_dates_a_start_across_lost_polls() -> None:
    lost = heats_from(START_S - 120.0, START_S + 660.0)
    outcome, views = judge(series(heats_from(START_S), lost=lost))
    # 11 minutes of rated heating in the counter's rise: it started by 13:03 at the latest.
    assert views[ENERGY_WITNESS] == "on-time"
    assert outcome == "pass"


def test_a_start_late_beyond_the_gap_still_fails() -> None:
    lost = heats_from(START_S - 120.0, START_S + 660.0)
    outcome, views = judge(series(heats_from(START_S + 3600.0), lost=lost))
    assert outcome == "fail"
    assert set(views.values()) == {"late"}


def test_nearly_every_poll_lost_decides_nothing() -> None:
    lost = heats_from(START_S - 600.0, START_S + 4 * 3600.0 - 60.0)
    outcome, views = judge(series(heats_from(START_S), lost=lost))
    assert outcome == "undecided"
    assert set(views.values()) == {"undecided"}


# -- *-2.4: the witnesses against each other -----------------------------------------------------


def test_idle_power_that_heats_nothing_is_a_contradiction() -> None:
    samples = series(heats_from(START_S), power=lambda t, on: RATED_W if on else 400.0)
    found = disagreements(samples, RATINGS)
    assert {d.rule for d in found} == {"status-power", "power-energy"}
    assert all(d.certain for d in found)


def test_a_counter_that_restarts_or_jumps_is_a_contradiction() -> None:
    restarts = series(heats_from(START_S), counter=lambda t, e: e + 500.0 if t < START_S else e)
    assert [d.rule for d in disagreements(restarts, RATINGS)] == ["counter-backwards"]
    jumps = series(heats_from(START_S), counter=lambda t, e: e + (1000.0 if t >= END_S else 0.0))
    found = disagreements(jumps, RATINGS)
    assert [d.rule for d in found] == ["counter-jump"]
    assert "rose 1022 Wh" in found[0].summary


def test_a_status_change_may_catch_the_power_ramping() -> None:
    # The power follows the status one reading late: not a contradiction.
    samples = series(
        heats_from(START_S), power=lambda t, on: RATED_W if START_S + 60 <= t < END_S + 60 else 0.0
    )
    assert [d.rule for d in disagreements(samples, RATINGS)] == []


def test_a_contradiction_lost_polls_may_explain_is_not_certain() -> None:
    # The power readings miss a 40-minute heating that the counter saw: the polls were lost.
    lost = heats_from(START_S + 600.0, START_S + 3000.0)
    samples = series(
        heats_from(START_S + 660.0, START_S + 2940.0),
        lost=lost,
        witnesses=(POWER_WITNESS, ENERGY_WITNESS),
    )
    found = disagreements(samples, RATINGS)
    assert found and not any(d.certain for d in found)


def test_witnesses_a_series_does_not_always_give_are_not_offered() -> None:
    samples = series(heats_from(START_S))
    partial = [
        *samples[:3],
        HeaterSample(1e6, 0.0, HeaterStatus(0.0, False, None, 0.0, (POWER_WITNESS,))),
    ]
    assert offered(samples) == HEATER_WITNESSES
    assert offered(partial) == (POWER_WITNESS,)
    assert offered([]) == ()


# -- energy drawn --------------------------------------------------------------------------------


def test_energy_comes_from_the_counter_where_it_is_sound() -> None:
    estimate = energy_drawn(series(heats_from(START_S)), RATINGS)
    assert estimate.wh == pytest.approx(RATED_W * 2.5, abs=1.0)
    assert estimate.uncertainty_wh == 0.0 and estimate.substituted == ()


def test_the_power_readings_stand_in_where_the_counter_went_back() -> None:
    restarts = series(heats_from(START_S), counter=lambda t, e: e + 500.0 if t < START_S else e)
    estimate = energy_drawn(restarts, RATINGS)
    assert estimate.wh == pytest.approx(RATED_W * 2.5, abs=RATED_W / 60)
    assert len(estimate.substituted) == 1


def test_power_integrated_across_lost_polls_is_uncertain() -> None:
    lost = heats_from(START_S + 600.0, START_S + 3000.0)
    estimate = energy_drawn(
        series(heats_from(START_S), lost=lost, witnesses=(POWER_WITNESS,)), RATINGS
    )
    assert estimate.wh == pytest.approx(RATED_W * 2.5, abs=RATED_W / 30)
    # The whole 41-minute gap, and half a minute at each change of power (start and end).
    gap_wh, ramp_wh = RATED_W * 2460.0 / 3600.0, RATED_W / 2 * STEP_S / 3600.0
    assert estimate.uncertainty_wh == pytest.approx(gap_wh + 2 * ramp_wh)
