"""The house around the reference battery: what its own mode "auto" follows when it does
self-consumption, as real home batteries do.

Self-consumption charges the battery from the PV surplus around midday and discharges it into the
house load in the evening and at night. The surplus is a pure function of the local time of day,
held constant over steps of :attr:`Household.step_s`, so a run that starts at the same local time
sees the same own-mode power: verdicts stay reproducible. The battery model clamps it to the
ratings and stops it when full or at the backup reserve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drready.simulators.battery_model import MIN_STEP_S, BatteryParams, Schedule

__all__ = ["DAY_S", "HOUR_S", "Household", "local_time_of_day", "self_consumption"]

HOUR_S = 3600.0
DAY_S = 24 * HOUR_S


def local_time_of_day(epoch_s: float, utc_offset_s: float) -> float:
    """Seconds after local midnight at ``epoch_s`` (seconds since the Unix epoch, UTC)."""
    return (epoch_s + utc_offset_s) % DAY_S


@dataclass(frozen=True)
class Household:
    """A sunny spring day of a Japanese detached house with rooftop PV."""

    #: PV output at solar noon; zero before sunrise and after sunset, a half sine in between.
    pv_peak_w: float = 4000.0
    sunrise_s: float = 6 * HOUR_S
    sunset_s: float = 18 * HOUR_S
    #: What the house draws all day (fridge, standby, ventilation).
    base_load_w: float = 400.0
    #: On top of the base load: breakfast, and the evening (cooking, lights, TV, bath).
    morning_load_w: float = 600.0
    morning_s: tuple[float, float] = (6.5 * HOUR_S, 8.5 * HOUR_S)
    evening_load_w: float = 1200.0
    evening_s: tuple[float, float] = (17 * HOUR_S, 23 * HOUR_S)
    #: The surplus is evaluated at the middle of each step and held for the step: the battery's
    #: controller follows a smoothed meter reading, not every cloud.
    step_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.step_s <= HOUR_S:
            raise ValueError("step_s must be in (0, 3600]")
        if not 0 <= self.sunrise_s < self.sunset_s <= DAY_S:
            raise ValueError("sunrise must come before sunset within the day")

    def pv_w(self, tod_s: float) -> float:
        if not self.sunrise_s < tod_s < self.sunset_s:
            return 0.0
        phase = (tod_s - self.sunrise_s) / (self.sunset_s - self.sunrise_s)
        return self.pv_peak_w * math.sin(math.pi * phase)

    def load_w(self, tod_s: float) -> float:
        load = self.base_load_w
        if self.morning_s[0] <= tod_s < self.morning_s[1]:
            load += self.morning_load_w
        if self.evening_s[0] <= tod_s < self.evening_s[1]:
            load += self.evening_load_w
        return load

    def surplus_w(self, tod_s: float) -> float:
        """PV minus load over the step holding ``tod_s``: + charges the battery, - discharges."""
        start = tod_s - tod_s % self.step_s
        middle = (start + self.step_s / 2) % DAY_S
        return self.pv_w(middle) - self.load_w(middle)

    def step_ends_in(self, tod_s: float) -> float:
        """Seconds until the next step begins (the surplus may change there)."""
        return self.step_s - tod_s % self.step_s


def self_consumption(
    household: Household, params: BatteryParams, epoch_at_zero_s: float, utc_offset_s: float
) -> Schedule:
    """The own mode "auto" of a battery whose model time 0 is ``epoch_at_zero_s``: the
    household's surplus, within the ratings, and how long it holds."""

    def schedule(model_time_s: float) -> tuple[float, float]:
        tod = local_time_of_day(epoch_at_zero_s + model_time_s, utc_offset_s)
        holds = household.step_ends_in(tod)
        if holds < MIN_STEP_S:  # float rounding at a step boundary: the next step
            holds += household.step_s
            tod = (tod + MIN_STEP_S) % DAY_S
        surplus = household.surplus_w(tod)
        return min(params.max_charge_w, max(-params.max_discharge_w, surplus)), holds

    return schedule
