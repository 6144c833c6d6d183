"""Physics and planner of the reference water heaters (heat pump "EcoCute" and hybrid).

The model is pure: it is advanced to a time it is given and never reads a clock. Everything is
piecewise constant between events (a draw-off starting or ending, the night window, a DR plan's
start time, the tank reaching a level, the DR energy being done), so the stored heat is a straight
line between two events and is integrated exactly. :meth:`WaterHeaterModel.next_event` says when
the next event is, so a runtime can sleep until then instead of polling.

Units: heat and energy in Wh (thermal for the tank, electric for the heat pump), power in W, time
in seconds since the Unix epoch; times of day ("tod") are seconds after local midnight.

The evaluation day repeats every day: draw-offs as fractions of the day's heat demand
``D = daily_heating_wh * cop``. Night heating fills the tank for the coming day (plus a margin)
minus the heat an accepted DR shift will add; a DR plan holds the heat pump off (outside the night
window) until its start time, then heats the DR-possible amount at rated power.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drready.model import DAY_S
from drready.timeofday import in_period

HOUR_S = 3600.0
#: Specific heat of water, Wh per litre and kelvin.
WATER_WH_PER_L_K = 1.163
#: Cold inlet, normal storage and highest storage temperatures (°C). Normal heating stops at
#: STORE_C; DR heating (a daytime energy shift) may go on up to MAX_C, as real EcoCutes do.
INLET_C = 15.0
STORE_C = 65.0
MAX_C = 90.0
#: Night heating stores the coming day's demand plus this share.
NIGHT_MARGIN = 0.10
#: The device's own daytime top-up is considered only below this share of the full tank...
TOP_UP_BELOW = 0.10
#: ...and then refills to the rest of the day's demand plus this share.
TOP_UP_MARGIN = 0.10
#: Heat in the tank when a simulation starts, as a share of D: the night heating done, the
#: morning draw-off taken (09:00 on the evaluation day).
INITIAL_FILL = 0.85
#: Levels closer than this (Wh) count as reached: below float noise, far above nothing physical.
Q_TOLERANCE_WH = 1e-3


@dataclass(frozen=True)
class DrawOff:
    """Hot water drawn between two times of day, as a share of the day's heat demand D."""

    start_s: float
    end_s: float
    share: float


#: The evaluation day's draw-offs: morning, noon, bath and evening (they add up to D).
EVALUATION_DRAW_OFFS: tuple[DrawOff, ...] = (
    DrawOff(7 * HOUR_S, 8 * HOUR_S, 0.20),
    DrawOff(12 * HOUR_S, 12.5 * HOUR_S, 0.05),
    DrawOff(19 * HOUR_S, 21 * HOUR_S, 0.60),
    DrawOff(21 * HOUR_S, 22 * HOUR_S, 0.15),
)


def tod(t: float, utc_offset_s: float) -> float:
    """Seconds after local midnight at epoch time ``t``."""
    return (t + utc_offset_s) % DAY_S


def local_midnight(t: float, utc_offset_s: float) -> float:
    """Epoch time of the local midnight that starts the day of ``t``."""
    return t - tod(t, utc_offset_s)


def next_occurrence(t: float, tod_s: float, utc_offset_s: float) -> float:
    """The first epoch time strictly after ``t`` whose local time of day is ``tod_s``."""
    at = local_midnight(t, utc_offset_s) + tod_s % DAY_S
    while at <= t:
        at += DAY_S
    return at


@dataclass(frozen=True)
class ThermalParams:
    tank_litres: float = 370.0
    rated_heating_power_w: float = 1300.0
    cop: float = 3.0
    daily_heating_wh: float = 6000.0
    #: Published windows for DR start times, inclusive at both ends (tod seconds).
    acceptance_windows: tuple[tuple[float, float], ...] = ((10 * HOUR_S, 15 * HOUR_S),)
    #: The device's own night heating period (tod seconds, runs over midnight).
    night_heating: tuple[float, float] = (23 * HOUR_S, 7 * HOUR_S)
    #: DR heating must be over by this time of day (before the evening demand).
    demand_deadline_s: float = 19 * HOUR_S
    utc_offset_s: float = 9 * HOUR_S
    draw_offs: tuple[DrawOff, ...] = EVALUATION_DRAW_OFFS
    #: A hybrid's auxiliary gas heater covers draw-offs the tank cannot.
    has_aux_heater: bool = False

    def __post_init__(self) -> None:
        if min(self.tank_litres, self.rated_heating_power_w, self.cop) <= 0:
            raise ValueError("tank_litres, rated_heating_power_w and cop must be > 0")
        if self.daily_heating_wh < 0:
            raise ValueError("daily_heating_wh must be >= 0")
        for draw in self.draw_offs:
            if not 0 <= draw.start_s < draw.end_s <= DAY_S or draw.share < 0:
                raise ValueError(f"a draw-off must lie within one day: {draw}")
        for start, end in self.acceptance_windows:
            if not 0 <= start <= end < DAY_S:
                raise ValueError(f"an acceptance window must be [first, last] in a day: {start}")
        start, end = self.night_heating
        if start == end:
            raise ValueError("the night heating period must not be empty")

    @property
    def q_max_wh(self) -> float:
        """Heat of a full tank at the normal storage temperature (the normal heating target)."""
        return self.tank_litres * WATER_WH_PER_L_K * (STORE_C - INLET_C)

    @property
    def q_ceiling_wh(self) -> float:
        """Heat of a tank at the highest temperature: no heating goes past it."""
        return self.tank_litres * WATER_WH_PER_L_K * (MAX_C - INLET_C)

    @property
    def daily_demand_wh(self) -> float:
        """D: the evaluation day's heat demand (thermal)."""
        return self.daily_heating_wh * self.cop

    @property
    def heat_rate_w(self) -> float:
        """Heat the heat pump puts into the tank at rated power (thermal W)."""
        return self.rated_heating_power_w * self.cop

    def in_window(self, start_s: float) -> bool:
        return any(a <= start_s <= b for a, b in self.acceptance_windows)

    def dr_possible_wh(self, start_s: float, share: float) -> float:
        """Electric Wh of DR heating the device can do from ``start_s`` (tod): 0 outside the
        windows, else the share of the daily heating, limited by what rated power can do before
        the demand deadline."""
        if not self.in_window(start_s):
            return 0.0
        before_deadline_h = max(0.0, self.demand_deadline_s - start_s) / HOUR_S
        return min(share * self.daily_heating_wh, self.rated_heating_power_w * before_deadline_h)

    def draw_rate_w(self, t: float) -> float:
        """Heat drawn from the tank at epoch time ``t`` (thermal W)."""
        now = tod(t, self.utc_offset_s)
        demand = self.daily_demand_wh
        return sum(
            d.share * demand * HOUR_S / (d.end_s - d.start_s)
            for d in self.draw_offs
            if d.start_s <= now < d.end_s
        )

    def draw_between(self, t0: float, t1: float) -> float:
        """Heat the draw-offs take between epoch times ``t0`` and ``t1`` (Wh)."""
        total = 0.0
        day = local_midnight(t0, self.utc_offset_s)
        demand = self.daily_demand_wh
        while day < t1:
            for d in self.draw_offs:
                lo, hi = max(t0, day + d.start_s), min(t1, day + d.end_s)
                if hi > lo:
                    total += d.share * demand * (hi - lo) / (d.end_s - d.start_s)
            day += DAY_S
        return total

    def boundaries(self) -> tuple[float, ...]:
        """Times of day where the draw or the night window changes."""
        times = {self.night_heating[0], self.night_heating[1]}
        for d in self.draw_offs:
            times.update((d.start_s, d.end_s % DAY_S))
        return tuple(sorted(times))


@dataclass
class _Segment:
    """What the model does until the next event, decided at its start."""

    heat_pump_w: float
    heat_in_w: float  # thermal, into the tank (heat pump or, with a fault, the gas heater)
    draw_w: float
    aux_dr: bool


class WaterHeaterModel:
    """Tank, heat pump, optional auxiliary heater, and the device's own heating planner."""

    def __init__(
        self, params: ThermalParams, now: float, initial_q_wh: float | None = None
    ) -> None:
        self.params = params
        self.time = now
        default_q = INITIAL_FILL * params.daily_demand_wh
        self.q_wh = min(params.q_max_wh, default_q if initial_q_wh is None else initial_q_wh)
        # Counters (Wh, never go back).
        self.electric_wh = 0.0  # heat-pump electricity
        self.heat_pump_heat_wh = 0.0  # heat the heat pump put in the tank
        self.aux_tank_heat_wh = 0.0  # heat the gas heater put in the tank (a fault's DR heating)
        self.drawn_wh = 0.0  # heat taken from the tank by draw-offs
        self.aux_supply_wh = 0.0  # draw-offs the gas heater covered because the tank was empty
        self.unmet_wh = 0.0  # draw-offs nothing covered: the tank ran dry
        self.min_q_wh = self.q_wh
        # The DR plan: its start time (epoch), when DR heating begins and how much (electric Wh).
        self.participation = False
        self.plan_at: float | None = None
        self.dr_heat_at: float | None = None
        self.dr_amount_wh = 0.0
        self.dr_by_aux = False
        self.dr_remaining_wh = 0.0
        self.dr_running_by_aux = False
        #: The heat-pump electricity counter when the last DR heating started (None: none yet).
        self.electric_at_dr_start_wh: float | None = None
        # Own heating state. The daytime reheating permission (EPC 0xC0) allows the top-up.
        self.top_up_permitted = True
        self.top_up_target_wh: float | None = None
        self._night_done: tuple[float, float] | None = None  # (window end, target reached)
        self.mode = "off"  # off | night | dr | aux_dr | top_up
        self.events: list[tuple[float, str]] = []
        self._decide()

    # -- what can be read ----------------------------------------------------------------------
    @property
    def heating(self) -> bool:
        """The heat pump is heating."""
        return self.mode in ("night", "dr", "top_up")

    @property
    def power_w(self) -> float:
        """Heat-pump electric power (W)."""
        return self.params.rated_heating_power_w if self.heating else 0.0

    @property
    def supplying(self) -> bool:
        """Hot water is being drawn."""
        return self.params.draw_rate_w(self.time) > 0

    @property
    def aux_on(self) -> bool:
        """The auxiliary gas heater is burning (hybrid only)."""
        if not self.params.has_aux_heater:
            return False
        if self.mode == "aux_dr":
            return True
        heat_in = self.params.heat_rate_w if self.heating else 0.0
        return self.q_wh <= Q_TOLERANCE_WH and self.params.draw_rate_w(self.time) > heat_in

    @property
    def dr_heating(self) -> bool:
        return self.mode in ("dr", "aux_dr")

    # -- the plan --------------------------------------------------------------------------------
    def set_plan(
        self, plan_at: float, heat_at: float, amount_wh: float, *, by_aux: bool = False
    ) -> None:
        """Accept a DR plan: start time ``plan_at``; DR heating of ``amount_wh`` from
        ``heat_at`` (equal to ``plan_at`` in a conforming device). Replaces any pending plan."""
        self.participation = True
        self.plan_at = plan_at
        self.dr_heat_at = heat_at
        self.dr_amount_wh = amount_wh
        self.dr_by_aux = by_aux
        self.events.append((self.time, f"plan accepted for {plan_at:.0f}: {amount_wh:.0f} Wh"))
        self._decide()

    def set_participation(self, participate: bool) -> None:
        self.participation = participate
        if not participate:
            self.cancel_plan()

    def permit_top_up(self, permitted: bool) -> None:
        """The daytime reheating permission (EPC 0xC0): may the device top up by itself?"""
        self.top_up_permitted = permitted
        self._decide()

    def cancel_plan(self) -> None:
        if self.plan_at is not None:
            self.events.append((self.time, "plan cancelled"))
        self.plan_at = None
        self.dr_heat_at = None
        self._decide()

    # -- time --------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Integrate up to ``now`` exactly, event by event (the past is ignored)."""
        while self.time < now:
            event, snap = self._next_event()
            end = now if event is None else min(event, now)
            self._integrate(self._segment(), end - self.time)
            self.time = end
            if end == event and snap is not None:
                self._snap(snap)
            self._decide()

    def next_event(self) -> float | None:
        """When the model next changes course (power, draw, plan, levels); None: never."""
        return self._next_event()[0]

    # -- internals -----------------------------------------------------------------------------
    def _in_night(self, t: float) -> bool:
        return in_period(tod(t, self.params.utc_offset_s), self.params.night_heating)

    def _night_end(self, t: float) -> float:
        return next_occurrence(t, self.params.night_heating[1], self.params.utc_offset_s)

    def _next_night_start(self, t: float) -> float:
        return next_occurrence(t, self.params.night_heating[0], self.params.utc_offset_s)

    def night_target_wh(self, t: float) -> float:
        """What night heating stores, decided at ``t`` in the night window: the coming day's
        demand plus the margin (at most a full tank), less the heat a planned DR heating will add,
        but never less than what is drawn before that DR heating starts."""
        p = self.params
        window_end = self._night_end(t)
        day_end = self._next_night_start(window_end)
        target = min((1 + NIGHT_MARGIN) * p.draw_between(window_end, day_end), p.q_max_wh)
        if self.dr_heat_at is not None and self.dr_heat_at < day_end:
            heat_at = max(self.dr_heat_at, window_end)
            floor = min((1 + NIGHT_MARGIN) * p.draw_between(window_end, heat_at), p.q_max_wh)
            target = max(target - p.cop * self.dr_amount_wh, floor)
        return target

    def remaining_demand_wh(self, t: float) -> float:
        """Heat the draw-offs take from ``t`` until the next night heating starts."""
        return self.params.draw_between(t, self._next_night_start(t))

    def _top_up_allowed(self, t: float) -> bool:
        return (
            not self._in_night(t)
            and self.plan_at is None
            and self.dr_remaining_wh <= 0
            and self.top_up_permitted
        )

    def _decide(self) -> None:
        """Apply what is due at ``self.time`` and choose what runs until the next event."""
        t = self.time
        p = self.params
        if self.plan_at is not None and t >= self.plan_at:
            # The plan and the participation clear at the start time (MRA 0xC7/0xCA remark).
            self.events.append((t, "plan start time reached: plan cleared"))
            self.plan_at = None
            self.participation = False
        if self.dr_heat_at is not None and t >= self.dr_heat_at:
            self.dr_remaining_wh = self.dr_amount_wh
            self.dr_running_by_aux = self.dr_by_aux
            self.dr_heat_at = None
            self.electric_at_dr_start_wh = self.electric_wh
            self.events.append((t, f"DR heating of {self.dr_amount_wh:.0f} Wh starts"))
        if self.dr_remaining_wh > 0 and self.q_wh >= p.q_ceiling_wh - Q_TOLERANCE_WH:
            self.events.append((t, "tank at its highest temperature: DR heating cut short"))
            self.dr_remaining_wh = 0.0
        if self.dr_remaining_wh > 0:
            self.top_up_target_wh = None
            self._set_mode("aux_dr" if self.dr_running_by_aux else "dr")
            return
        if self._in_night(t):
            self.top_up_target_wh = None
            window_end = self._night_end(t)
            target = self.night_target_wh(t)
            done = self._night_done
            if done is not None and done[0] == window_end and target <= done[1]:
                self._set_mode("off")
            elif self.q_wh < target - Q_TOLERANCE_WH:
                self._set_mode("night")
            else:
                self._night_done = (window_end, target)
                self._set_mode("off")
            return
        if not self._top_up_allowed(t):
            self.top_up_target_wh = None
        elif self.top_up_target_wh is not None:
            if self.q_wh >= self.top_up_target_wh - Q_TOLERANCE_WH:
                self.top_up_target_wh = None
        elif self.q_wh <= TOP_UP_BELOW * p.q_max_wh + Q_TOLERANCE_WH:
            remaining = self.remaining_demand_wh(t)
            if self.q_wh < remaining - Q_TOLERANCE_WH:
                # The tank would run dry before the night heating: the device's own top-up.
                self.top_up_target_wh = min(p.q_max_wh, (1 + TOP_UP_MARGIN) * remaining)
        self._set_mode("top_up" if self.top_up_target_wh is not None else "off")

    def _set_mode(self, mode: str) -> None:
        if mode != self.mode:
            self.events.append((self.time, f"{self.mode} -> {mode}"))
            self.mode = mode

    def _segment(self) -> _Segment:
        p = self.params
        heat_pump_w = self.power_w
        aux_dr = self.mode == "aux_dr"
        heat_in = p.heat_rate_w if (self.heating or aux_dr) else 0.0
        return _Segment(heat_pump_w, heat_in, p.draw_rate_w(self.time), aux_dr)

    def _integrate(self, seg: _Segment, dt: float) -> None:
        if dt <= 0:
            return
        hours = dt / HOUR_S
        heat_wh = seg.heat_in_w * hours
        draw_wh = seg.draw_w * hours
        if self.q_wh <= Q_TOLERANCE_WH and seg.heat_in_w < seg.draw_w:
            # Empty tank: what is heated goes straight out; the rest is the gas heater's or unmet.
            self.drawn_wh += heat_wh + self.q_wh
            self.q_wh = 0.0
            short = draw_wh - heat_wh
            if self.params.has_aux_heater:
                self.aux_supply_wh += short
            else:
                self.unmet_wh += short
        else:
            self.q_wh = max(0.0, self.q_wh + heat_wh - draw_wh)
            self.drawn_wh += draw_wh
        if seg.aux_dr:
            self.aux_tank_heat_wh += heat_wh
        else:
            self.heat_pump_heat_wh += heat_wh
        self.electric_wh += seg.heat_pump_w * hours
        if self.dr_remaining_wh > 0:
            self.dr_remaining_wh -= self.params.rated_heating_power_w * hours
        self.min_q_wh = min(self.min_q_wh, self.q_wh)

    def _snap(self, snap: tuple[str, float]) -> None:
        kind, level = snap
        if kind == "q":
            self.q_wh = level
            self.min_q_wh = min(self.min_q_wh, level)
        elif kind == "dr":
            self.dr_remaining_wh = 0.0

    def _next_event(self) -> tuple[float | None, tuple[str, float] | None]:
        """The next event after ``self.time`` and the level to snap to when it is reached."""
        t = self.time
        p = self.params
        candidates: list[tuple[float, tuple[str, float] | None]] = []
        for tod_s in p.boundaries():
            candidates.append((next_occurrence(t, tod_s, p.utc_offset_s), None))
        for at in (self.plan_at, self.dr_heat_at):
            if at is not None:
                candidates.append((max(at, t), None))
        seg = self._segment()
        net_w = seg.heat_in_w - seg.draw_w
        levels: list[float] = []
        if net_w > 0:
            if self.mode == "night":
                levels.append(self.night_target_wh(t))
            elif self.mode == "top_up" and self.top_up_target_wh is not None:
                levels.append(self.top_up_target_wh)
            elif self.dr_heating:
                levels.append(p.q_ceiling_wh)
        elif net_w < 0 and self.q_wh > Q_TOLERANCE_WH:
            levels.append(0.0)
            if (
                self.mode == "off"
                and self._top_up_allowed(t)
                and self.q_wh < self.remaining_demand_wh(t)
            ):
                # Not heating, the demand left and the tank fall together: the top-up starts
                # when the tank falls below its threshold.
                levels.append(TOP_UP_BELOW * p.q_max_wh)
        for level in levels:
            gap = level - self.q_wh
            if gap * net_w > 0:
                candidates.append((t + gap / net_w * HOUR_S, ("q", level)))
        if self.dr_heating and self.dr_remaining_wh > 0:
            due = t + self.dr_remaining_wh / p.rated_heating_power_w * HOUR_S
            candidates.append((due, ("dr", 0.0)))
        upcoming = [c for c in candidates if c[0] > t]
        if not upcoming:
            return None, None
        return min(upcoming, key=lambda c: c[0])


def simulate_days(
    params: ThermalParams,
    start: float,
    days: int,
    plans: Sequence[tuple[float, float]] = (),
    share: float = 0.6,
) -> WaterHeaterModel:
    """Run the model for ``days`` days from ``start``; ``plans`` are (accept at, start tod)."""
    model = WaterHeaterModel(params, start)
    for accept_at, start_s in sorted(plans):
        model.advance(accept_at)
        plan_at = next_occurrence(accept_at, start_s, params.utc_offset_s)
        model.set_plan(plan_at, plan_at, params.dr_possible_wh(start_s, share))
    model.advance(start + days * DAY_S)
    return model
