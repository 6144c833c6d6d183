"""Physics of the reference home storage battery: state of charge, power ramp, energy counters.

The model is pure: it is advanced to a time it is given, never reads a clock. Power moves towards
the set point at the ramp rate; energy is integrated in steps of at most one second, each cut where
the ramp ends, so every step is a straight line and its trapezoid is the exact integral.

The set point is either fixed (a DR target, standby, an own charging mode) or follows a
:data:`Schedule` (self-consumption): a pure function of the model's time, piecewise constant, whose
changes cut the integration steps too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Longest integration step: the set point and the SoC limits are checked at least this often.
MAX_STEP_S = 1.0
#: A ramp that would end sooner than this is taken as ended (below float resolution at a day).
MIN_STEP_S = 1e-6

#: A set point that follows time: ``schedule(t)`` is (set point W, seconds it holds from ``t``).
Schedule = Callable[[float], tuple[float, float]]


@dataclass(frozen=True)
class BatteryParams:
    capacity_wh: float = 9800.0
    max_charge_w: float = 3000.0
    max_discharge_w: float = 3000.0
    min_charge_w: float = 0.0
    min_discharge_w: float = 0.0
    ramp_w_per_s: float = 100.0
    initial_soc_pct: float = 50.0
    reserve_pct: float = 20.0
    #: What the power electronics can physically do: a device that forgets its ratings can exceed
    #: them up to this factor (the ``exceeds_max_power`` fault).
    hardware_limit_factor: float = 1.6

    def __post_init__(self) -> None:
        if self.capacity_wh <= 0 or self.max_charge_w <= 0 or self.max_discharge_w <= 0:
            raise ValueError("capacity and maximum powers must be > 0")
        if not 0 <= self.initial_soc_pct <= 100 or not 0 <= self.reserve_pct <= 100:
            raise ValueError("percentages must be within 0..100")
        if self.ramp_w_per_s <= 0:
            raise ValueError("ramp_w_per_s must be > 0")


class BatteryModel:
    """Signed power: positive charges the battery, negative discharges it (as EPC 0xD3)."""

    def __init__(self, params: BatteryParams, now: float) -> None:
        self.params = params
        self.soc_wh = params.capacity_wh * params.initial_soc_pct / 100.0
        self.power_w = 0.0
        self.setpoint_w = 0.0
        #: When set, it gives the set point (own mode self-consumption); None: ``setpoint_w``.
        self.schedule: Schedule | None = None
        self.floor_pct = params.reserve_pct  # discharge stops here
        self.charged_wh = 0.0
        self.discharged_wh = 0.0
        self.time = now

    @property
    def soc_pct(self) -> float:
        return 100.0 * self.soc_wh / self.params.capacity_wh

    @property
    def floor_wh(self) -> float:
        return self.params.capacity_wh * self.floor_pct / 100.0

    def _limited_setpoint(self) -> float:
        setpoint = self.setpoint_w
        # A full battery cannot charge, one at its floor cannot discharge.
        if setpoint > 0 and self.soc_wh >= self.params.capacity_wh:
            return 0.0
        if setpoint < 0 and self.soc_wh <= self.floor_wh:
            return 0.0
        return setpoint

    def advance(self, now: float) -> None:
        while self.time < now:
            step = min(MAX_STEP_S, now - self.time)
            if self.schedule is not None:
                self.setpoint_w, holds_s = self.schedule(self.time)
                step = min(step, max(MIN_STEP_S, holds_s))
            target = self._limited_setpoint()
            start_power = self.power_w
            ramp_end_s = abs(target - start_power) / self.params.ramp_w_per_s
            if ramp_end_s < MIN_STEP_S:
                # Close enough to call it reached: a step this short would not move the clock
                # (time + step == time for floats), and the energy it holds is negligible.
                start_power = self.power_w = target
            elif ramp_end_s < step:
                # The ramp ends inside this step: stop the step there, so each step is one
                # straight line and the trapezoid below is exact.
                step = ramp_end_s
            max_change = self.params.ramp_w_per_s * step
            if abs(target - start_power) <= max_change:
                end_power = target
            else:
                end_power = start_power + max_change * (1 if target > start_power else -1)
            energy_wh = (start_power + end_power) / 2.0 * step / 3600.0
            if energy_wh > 0:
                room_wh = self.params.capacity_wh - self.soc_wh
                if energy_wh >= room_wh:
                    # Full: the BMS stops the flow, so no power is reported past this point.
                    energy_wh, end_power = max(0.0, room_wh), 0.0
                self.charged_wh += energy_wh
            elif energy_wh < 0:
                available_wh = self.soc_wh - self.floor_wh
                if -energy_wh >= available_wh:
                    energy_wh, end_power = -max(0.0, available_wh), 0.0
                self.discharged_wh += -energy_wh
            self.soc_wh += energy_wh
            self.power_w = end_power
            if self.time + step <= self.time:
                self.time = now  # a step below float resolution: nothing left to integrate
                break
            self.time += step
            limited = self._limited_setpoint()
            if limited == 0.0 and self.setpoint_w != 0.0:
                # Hitting full or the floor stops the flow at once: the BMS opens the contactor.
                self.power_w = 0.0

    def next_change_in(self) -> float | None:
        """Seconds until the power next changes course: the ramp crosses zero or ends, or the
        battery fills or reaches its floor. None when nothing will change by itself."""
        times: list[float] = []
        if self.schedule is not None:
            self.setpoint_w, holds_s = self.schedule(self.time)
            times.append(holds_s)
        target = self._limited_setpoint()
        ramp = self.params.ramp_w_per_s
        if self.power_w != target:
            times.append(abs(target - self.power_w) / ramp)
            if self.power_w * target < 0:
                times.append(abs(self.power_w) / ramp)  # the sign flips on the way
            elif self.power_w == 0:
                times.append(MIN_STEP_S)  # leaving rest: the flow has a direction at once
        if self.power_w > 0:
            times.append((self.params.capacity_wh - self.soc_wh) / self.power_w * 3600.0)
        elif self.power_w < 0:
            times.append((self.soc_wh - self.floor_wh) / -self.power_w * 3600.0)
        upcoming = [t for t in times if t > 0]
        return min(upcoming) if upcoming else None
