"""The [simulation] section of a device profile: the ranges a seeded run (``drready run --seed
N``) draws the built-in simulators' starting state from. Without ``--seed`` it is not used: the
simulators start from their fixed state."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from drready.errors import ProfileError
from drready.profile.schema import validate_document

__all__ = ["SimulationRanges"]

_RANGES = (
    "soc_range_pct",
    "tank_temp_range_c",
    "time_of_day_range_h",
    "reply_latency_ms",
    "http_latency_ms",
)


@dataclass(frozen=True)
class SimulationRanges:
    """Each range is [low, high], drawn uniformly; the defaults are documented in
    ``drready/profile/builtin/README.md`` and the schema."""

    #: The battery's state of charge at the start: above its 20 % reserve, below full.
    soc_range_pct: tuple[float, float] = (30.0, 90.0)
    #: A water heater's mean tank temperature at the start (its stored heat above the 15 °C
    #: inlet); 65 °C is a tank heated to its normal storage temperature.
    tank_temp_range_c: tuple[float, float] = (35.0, 65.0)
    #: Japan time of day (hours) virtual time starts at.
    time_of_day_range_h: tuple[float, float] = (0.0, 24.0)
    #: The start date: 2027-04-01 plus 0 to this many days.
    date_range_days: int = 365
    #: The largest error of one reading of the simulated independent meter (± W).
    meter_noise_w: float = 5.0
    #: How long the simulated ECHONET Lite node (and SunSpec server) takes to answer (ms).
    reply_latency_ms: tuple[float, float] = (0.0, 200.0)
    #: How long the simulated maker's cloud takes to answer an HTTP request (ms).
    http_latency_ms: tuple[float, float] = (0.0, 200.0)

    def __post_init__(self) -> None:
        validate_document(self.to_json(), "simulation", "simulation")
        for name in _RANGES:
            low, high = (float(v) for v in getattr(self, name))
            if low > high:
                raise ProfileError(
                    f"simulation.{name}", "[low, high] with low <= high", f"[{low:g}, {high:g}]"
                )
            object.__setattr__(self, name, (low, high))
        object.__setattr__(self, "meter_noise_w", float(self.meter_noise_w))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            doc[f.name] = list(value) if isinstance(value, tuple) else value
        return doc
