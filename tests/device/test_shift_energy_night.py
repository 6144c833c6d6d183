"""HY-2.1's shift energy leaves the night heating out, though the samples' times of day are read
from a clock in whole minutes (each up to a minute earlier than when it was really taken).

Over OpenADR 3 the heater is read every 5 minutes; when the reads fell a few seconds after the
minute, the reading taken 3 s after the night heating began was labelled a moment before 23:00,
and the next 5 minutes of night heating (75 Wh at 900 W, over the 68 Wh allowed) counted as the
DR shift's: seed 2 of ``drready run --simulate hybrid --profile
drready/profile/builtin/hybrid-openadr3.toml`` (HY-2.1 fail, "the shift drew 1426 Wh").
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from drready.suites.water_heater import scenarios

from drready.bindings.types import HeaterSample, HeaterStatus
from drready.profile import default_profile

PROFILE = default_profile("hybrid", "openadr3")
SPEC = PROFILE.water_heater
assert SPEC is not None
NIGHT_START_S = SPEC.night_heating_s[0]
RATED_W = SPEC.rated_heating_power_w
INTERVAL_S = 300.0


def _series(taken_after_s: float, *, dr: tuple[float, float] | None = None) -> list[HeaterSample]:
    """Readings every 5 minutes from 21:00 to 01:00, each taken ``taken_after_s`` after the
    5-minute mark and labelled with that mark (the clock read in whole minutes, a hair early):
    the night heating at rated power from 23:00, and a DR heating over ``dr`` (times of day)."""

    def heating(tod_s: float) -> bool:
        at = tod_s % 86400.0
        night = at >= NIGHT_START_S or at < 3600.0
        return night or (dr is not None and dr[0] <= at < dr[1])

    first = NIGHT_START_S - 2 * 3600.0
    samples: list[HeaterSample] = []
    energy_wh = 1000.0
    step_s = 1.0
    taken = first + taken_after_s
    for k in range(int(4 * 3600 / INTERVAL_S) + 1):
        target = first + k * INTERVAL_S + taken_after_s
        while taken < target:  # the counter integrates the heating second by second
            energy_wh += RATED_W * step_s / 3600.0 if heating(taken) else 0.0
            taken += step_s
        on = heating(target)
        label = first + k * INTERVAL_S - 1e-6
        status = HeaterStatus(RATED_W if on else 0.0, on, False, round(energy_wh))
        samples.append(HeaterSample(label - first, label % 86400.0, status))
    return samples


def _energy(samples: list[HeaterSample]) -> float:
    run = scenarios.ShiftRun(20 * 3600.0, 16.5 * 3600.0, None, samples, 1350.0)
    dut = SimpleNamespace(profile=PROFILE)
    return scenarios.shift_energy(dut, run).wh  # type: ignore[arg-type]


@pytest.mark.parametrize("taken_after_s", [0.0, 3.0, 59.0])
def test_the_night_heating_is_left_out_whenever_in_the_minute_the_reads_fall(
    taken_after_s: float,
) -> None:
    assert _energy(_series(taken_after_s)) <= RATED_W * taken_after_s / 3600.0 + 1.0


def test_heating_outside_the_night_still_counts() -> None:
    start, end = NIGHT_START_S - 90 * 60.0, NIGHT_START_S - 30 * 60.0  # 21:30 to 22:30
    drawn = _energy(_series(3.0, dr=(start, end)))
    assert drawn == pytest.approx(RATED_W * (end - start) / 3600.0, abs=RATED_W * 10 / 3600.0)
