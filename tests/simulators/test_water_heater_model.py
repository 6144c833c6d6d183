"""Tests for the reference water heaters' thermal model and planner (no network, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from drready.simulators.water_heater import WaterHeaterConfig
from drready.simulators.water_heater_model import (
    DAY_S,
    HOUR_S,
    INITIAL_FILL,
    DrawOff,
    ThermalParams,
    WaterHeaterModel,
    next_occurrence,
    simulate_days,
    tod,
)

#: 2027-04-01 00:00 UTC: 09:00 in the device's local time (UTC+9), where simulated runs start.
START = datetime(2027, 4, 1, tzinfo=UTC).timestamp()
CLASSES = ("heatpump", "hybrid")


def _params(device_class: str) -> ThermalParams:
    return WaterHeaterConfig.for_class(device_class).thermal_params()


def _at(day: int, hour: float) -> float:
    """Epoch time of local ``hour`` on day ``day`` of the run (day 0 is 2027-04-01)."""
    return START - 9 * HOUR_S + day * DAY_S + hour * HOUR_S


def _balance(model: WaterHeaterModel, q0: float) -> float:
    """Heat in minus heat out minus what the tank gained: zero when energy is conserved."""
    heat_in = model.electric_wh * model.params.cop + model.aux_tank_heat_wh
    return heat_in - (model.q_wh - q0) - model.drawn_wh


def _heating_log(model: WaterHeaterModel, until: float) -> list[tuple[float, float, bool]]:
    """(start, end, heat pump heating) segments, event by event, up to ``until``."""
    segments = []
    while model.time < until:
        due = model.next_event()
        end = until if due is None else min(due, until)
        segments.append((model.time, end, model.heating))
        model.advance(end)
    return segments


def _plan(model: WaterHeaterModel, start_s: float, share: float = 0.6) -> float:
    """Accept a conforming plan for the next ``start_s``; returns its start (epoch)."""
    plan_at = next_occurrence(model.time, start_s, model.params.utc_offset_s)
    model.set_plan(plan_at, plan_at, model.params.dr_possible_wh(start_s, share))
    return plan_at


# --------------------------------------------------------------------------- figures


def test_built_in_figures_are_consistent() -> None:
    hp, hy = _params("heatpump"), _params("hybrid")
    assert hp.q_max_wh == pytest.approx(370 * 1.163 * 50)
    assert hp.daily_demand_wh == 18000
    assert hy.daily_demand_wh == 7800
    for p in (hp, hy):
        # Night heating can store a day and its margin, in the night window at rated power.
        assert 1.1 * p.daily_demand_wh <= p.q_max_wh
        assert 1.1 * p.daily_heating_wh <= p.rated_heating_power_w * 8
        assert sum(d.share for d in p.draw_offs) == pytest.approx(1.0)
    assert tod(START, 9 * HOUR_S) == 9 * HOUR_S


@pytest.mark.parametrize(
    ("device_class", "hour", "expected_wh"),
    [
        ("heatpump", 9, 0.0),  # before the window
        ("heatpump", 10, 3600.0),  # the window's first start time
        ("heatpump", 13, 3600.0),
        ("heatpump", 15, 3600.0),  # its last, inclusive
        ("heatpump", 15.5, 0.0),
        ("heatpump", 17, 0.0),
        ("hybrid", 8.5, 0.0),
        ("hybrid", 9, 1560.0),
        ("hybrid", 13, 1560.0),
        ("hybrid", 16, 1560.0),  # 2 h before 18:00 at 900 W = 1800 Wh: the share limits
        ("hybrid", 16.5, 1350.0),  # 1.5 h x 900 W: the time left limits
        ("hybrid", 17, 0.0),
    ],
)
def test_dr_possible_at_several_start_times(
    device_class: str, hour: float, expected_wh: float
) -> None:
    assert _params(device_class).dr_possible_wh(hour * HOUR_S, 0.6) == pytest.approx(expected_wh)


def test_dr_possible_follows_the_share() -> None:
    params = _params("heatpump")
    assert params.dr_possible_wh(13 * HOUR_S, 0.40) == pytest.approx(2400)
    assert params.dr_possible_wh(13 * HOUR_S, 0.52) == pytest.approx(3120)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tank_litres": 0},
        {"rated_heating_power_w": -1},
        {"cop": 0},
        {"daily_heating_wh": -1},
        {"draw_offs": (DrawOff(8 * HOUR_S, 7 * HOUR_S, 0.2),)},
        {"acceptance_windows": ((15 * HOUR_S, 10 * HOUR_S),)},
        {"night_heating": (HOUR_S, HOUR_S)},
    ],
)
def test_thermal_params_reject_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ThermalParams(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- physics


@pytest.mark.parametrize("device_class", CLASSES)
@pytest.mark.parametrize("with_dr", [False, True], ids=["no-dr", "dr"])
def test_energy_balance(device_class: str, with_dr: bool) -> None:
    model = WaterHeaterModel(_params(device_class), START)
    q0 = model.q_wh
    assert q0 == pytest.approx(INITIAL_FILL * model.params.daily_demand_wh)
    if with_dr:
        _plan(model, 13 * HOUR_S)
    for hours in (0.5, 4, 4.01, 13.7, 24, 50):
        model.advance(START + hours * HOUR_S)
        assert _balance(model, q0) == pytest.approx(0.0, abs=1e-6)
    assert model.heat_pump_heat_wh == pytest.approx(model.electric_wh * model.params.cop)
    assert model.aux_supply_wh == model.unmet_wh == 0.0


def test_draw_offs_take_the_day_demand() -> None:
    model = WaterHeaterModel(_params("heatpump"), START)
    model.advance(START + DAY_S)
    assert model.drawn_wh == pytest.approx(model.params.daily_demand_wh)


def test_advancing_in_small_steps_or_in_one_jump_agrees() -> None:
    stepped = WaterHeaterModel(_params("heatpump"), START)
    jumped = WaterHeaterModel(_params("heatpump"), START)
    _plan(stepped, 13 * HOUR_S)
    _plan(jumped, 13 * HOUR_S)
    end = START + 30 * HOUR_S
    t = START
    while t < end:
        t = min(end, t + 61.7)
        stepped.advance(t)
    jumped.advance(end)
    assert stepped.q_wh == pytest.approx(jumped.q_wh)
    assert stepped.electric_wh == pytest.approx(jumped.electric_wh)
    assert stepped.drawn_wh == pytest.approx(jumped.drawn_wh)


@pytest.mark.parametrize("device_class", CLASSES)
def test_no_daytime_heating_without_dr(device_class: str) -> None:
    model = WaterHeaterModel(_params(device_class), START)
    for start, end, heating in _heating_log(model, START + 3 * DAY_S):
        if heating:
            # Heating only in the night window 23:00-07:00.
            assert not 7 * HOUR_S <= tod(start, 9 * HOUR_S) < 23 * HOUR_S
            assert tod(end, 9 * HOUR_S) <= 7 * HOUR_S or tod(end, 9 * HOUR_S) == 23 * HOUR_S
    assert model.top_up_target_wh is None
    assert not any("top_up" in text for _, text in model.events)


# --------------------------------------------------------------------------- DR


@pytest.mark.parametrize("device_class", CLASSES)
def test_dr_holds_off_then_heats_the_amount_at_rated_power_from_the_start_time(
    device_class: str,
) -> None:
    model = WaterHeaterModel(_params(device_class), START)
    plan_at = _plan(model, 13 * HOUR_S)
    assert plan_at == _at(0, 13)
    amount = model.params.dr_possible_wh(13 * HOUR_S, 0.6)
    duration = amount / model.params.rated_heating_power_w * HOUR_S
    model.advance(plan_at - 1)
    assert (model.participation, model.plan_at, model.heating) == (True, plan_at, False)
    assert model.electric_wh == 0
    model.advance(plan_at)
    # The plan and the participation clear at the start time; the DR heating starts.
    assert (model.participation, model.plan_at) == (False, None)
    assert model.heating
    assert model.power_w == model.params.rated_heating_power_w
    model.advance(plan_at + duration - 1)
    assert model.heating
    model.advance(plan_at + duration)
    assert not model.heating
    assert model.electric_wh == pytest.approx(amount)
    model.advance(plan_at + 6 * HOUR_S)
    assert model.electric_wh == pytest.approx(amount)


def test_plan_is_for_the_next_occurrence_of_the_start_time() -> None:
    model = WaterHeaterModel(_params("heatpump"), _at(0, 14))
    plan_at = _plan(model, 13 * HOUR_S)
    assert plan_at == _at(1, 13)
    model.advance(_at(1, 13) - 1)
    assert model.plan_at == plan_at
    # The night heating stored less: the DR heating will add the rest.
    assert not model.heating
    model.advance(_at(1, 13))
    assert model.plan_at is None and model.heating


def test_cancel_clears_the_plan() -> None:
    model = WaterHeaterModel(_params("heatpump"), START)
    _plan(model, 13 * HOUR_S)
    model.set_participation(False)
    assert model.plan_at is None
    model.advance(_at(0, 18))
    assert model.electric_wh == 0


def test_night_heating_stores_less_before_a_dr_day() -> None:
    params = _params("heatpump")
    plain = WaterHeaterModel(params, _at(0, 14))
    planned = WaterHeaterModel(params, _at(0, 14))
    _plan(planned, 13 * HOUR_S)
    plain.advance(_at(1, 7))
    planned.advance(_at(1, 7))
    shifted = params.dr_possible_wh(13 * HOUR_S, 0.6) * params.cop
    assert plain.q_wh == pytest.approx(1.1 * params.daily_demand_wh)
    assert planned.q_wh == pytest.approx(plain.q_wh - shifted)


@pytest.mark.parametrize("device_class", CLASSES)
@pytest.mark.parametrize(
    "scenario", ["no-dr", "same-day-13h", "next-day", "window-start", "window-end"]
)
def test_tank_never_runs_dry_over_three_days(device_class: str, scenario: str) -> None:
    params = _params(device_class)
    first, last = params.acceptance_windows[0]
    plans: list[tuple[float, float]] = {
        "no-dr": [],
        "same-day-13h": [(_at(d, 9.5), 13 * HOUR_S) for d in range(3)],
        "next-day": [(_at(d, 14), 13 * HOUR_S) for d in range(3)],
        "window-start": [(_at(d, 8 if d else 9), first) for d in range(3)],
        "window-end": [(_at(d, 9.5), last) for d in range(3)],
    }[scenario]
    model = simulate_days(params, START, 3, plans)
    assert model.unmet_wh == 0.0
    assert model.aux_supply_wh == 0.0
    assert model.min_q_wh > 0.04 * params.daily_demand_wh
    assert model.q_wh <= params.q_ceiling_wh
    assert _balance(model, INITIAL_FILL * params.daily_demand_wh) == pytest.approx(0, abs=1e-6)
    # Heat pump heating each day: the night's and the DR's, nothing of its own in the day.
    assert not any("top_up" in text for _, text in model.events)


def test_dr_heating_stops_at_the_highest_tank_temperature() -> None:
    params = _params("heatpump")
    model = WaterHeaterModel(params, _at(0, 12.5), initial_q_wh=params.q_max_wh)
    _plan(model, 13 * HOUR_S)
    model.advance(_at(0, 17))
    assert model.q_wh == pytest.approx(params.q_ceiling_wh)
    assert model.electric_wh < params.dr_possible_wh(13 * HOUR_S, 0.6)
    assert any("cut short" in text for _, text in model.events)


# --------------------------------------------------------------------------- own top-up, gas heater


def test_own_top_up_when_the_tank_would_run_dry() -> None:
    params = _params("heatpump")
    model = WaterHeaterModel(params, START, initial_q_wh=0.12 * params.q_max_wh)
    log = _heating_log(model, _at(0, 23))
    top_ups = [(s, e) for s, e, heating in log if heating]
    assert top_ups, "the device should top up before the evening draw-off"
    # It starts when the tank falls below 10 % during the noon draw-off...
    assert tod(top_ups[0][0], 9 * HOUR_S) == pytest.approx(12.25 * HOUR_S, abs=60)
    assert model.unmet_wh == 0


def test_no_top_up_while_a_plan_is_pending() -> None:
    params = _params("heatpump")
    model = WaterHeaterModel(params, START, initial_q_wh=0.12 * params.q_max_wh)
    _plan(model, 15 * HOUR_S)
    model.advance(_at(0, 15) - 1)
    assert model.electric_wh == 0
    model.advance(_at(0, 15) + 1)
    assert model.heating


def test_hybrid_gas_heater_covers_an_empty_tank() -> None:
    params = _params("hybrid")
    model = WaterHeaterModel(params, _at(0, 18.5), initial_q_wh=100.0)
    model.permit_top_up(False)  # no own daytime reheating: the gas heater must cover
    model.advance(_at(0, 19) + 600)  # 100 Wh last 154 s of the bath draw-off
    assert model.q_wh == 0 and model.aux_on
    assert not model.heating
    model.advance(_at(0, 22) + 60)
    assert not model.aux_on
    assert model.aux_supply_wh == pytest.approx(0.75 * params.daily_demand_wh - 100.0)
    assert model.unmet_wh == 0


def test_heat_pump_runs_dry_without_a_gas_heater() -> None:
    params = _params("heatpump")
    model = WaterHeaterModel(params, _at(0, 18.5), initial_q_wh=100.0)
    model.permit_top_up(False)
    model.advance(_at(0, 22))
    assert not model.aux_on
    assert model.unmet_wh == pytest.approx(0.75 * params.daily_demand_wh - 100.0)


def test_aux_dr_heating_heats_the_tank_without_electricity() -> None:
    params = _params("hybrid")
    model = WaterHeaterModel(params, START)
    q0 = model.q_wh
    plan_at = next_occurrence(START, 13 * HOUR_S, params.utc_offset_s)
    amount = params.dr_possible_wh(13 * HOUR_S, 0.6)
    model.set_plan(plan_at, plan_at, amount, by_aux=True)
    model.advance(plan_at + 60)
    assert model.aux_on and not model.heating and model.power_w == 0
    model.advance(plan_at + 3 * HOUR_S)
    assert model.electric_wh == 0
    assert model.aux_tank_heat_wh == pytest.approx(amount * params.cop)
    assert _balance(model, q0) == pytest.approx(0, abs=1e-6)


def test_next_event_is_never_in_the_past() -> None:
    model = WaterHeaterModel(_params("hybrid"), START)
    _plan(model, 16.5 * HOUR_S)
    count = 0
    while model.time < START + 2 * DAY_S:
        due = model.next_event()
        assert due is not None and due > model.time
        model.advance(due)
        count += 1
    assert count < 60  # a handful of events a day: nothing polls
