"""Randomised starts (``drready run --seed N``): where a seeded run's simulators start, drawn
within the profile's ``[simulation]`` ranges (:class:`drready.profile.SimulationRanges`).

Each part of a run draws from its own :class:`random.Random`, seeded by the run's seed and the
part's key (device class, binding and serial number), hashed with SHA-256 (Python's ``hash`` of
a string differs between processes): the parts of one run start differently, and
``drready run --simulate CLASS --seed N`` starts that class exactly as the same part of a
combined run with ``--seed N`` did. Without a seed nothing is drawn: the reference devices'
fixed start, 2027-04-01T09:00 Japan time.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from drready.errors import UsageError
from drready.model import Binding, DeviceClass
from drready.profile import Profile, SimulationRanges
from drready.simulation import StartState

__all__ = ["JAPAN", "SEED_EPOCH", "SeededStart", "check_ranges", "part_key", "seeded_start"]

#: The reference devices' local time (and the zone ``--clock`` is read in).
JAPAN = timezone(timedelta(hours=9))
#: A seeded run's start date is this day plus 0 to ``date_range_days`` days.
SEED_EPOCH = datetime(2027, 4, 1, tzinfo=JAPAN)


@dataclass(frozen=True)
class SeededStart:
    """What a seed drew for one part: where virtual time starts, and the simulators' state."""

    seed: int
    key: str
    clock_start: datetime
    state: StartState

    def to_json(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "key": self.key,
            "clock_start": self.clock_start.isoformat(timespec="seconds"),
            **self.state.to_json(),
        }


def part_key(profile: Profile) -> str:
    """What tells a run's parts apart: class, binding and the unit's serial number."""
    device = profile.device
    return f"{device.device_class}/{device.binding}/{device.serial_number or '-'}"


def _rng(seed: int, key: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}/{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _timeouts_s(profile: Profile) -> tuple[float | None, float | None]:
    """The request timeouts a reply latency must stay well under: the device link's (ECHONET
    Lite or Modbus) and the maker cloud's HTTP one."""
    device: float | None = None
    if Binding(profile.device.binding) is Binding.MODBUS and profile.modbus is not None:
        device = profile.modbus.request_timeout_s
    elif profile.echonet is not None:
        device = profile.echonet.request_timeout_s
    http = profile.webapi.request_timeout_s if profile.webapi is not None else None
    return device, http


def check_ranges(profile: Profile) -> None:
    """Refuse, in one line, latencies a seed could draw that come near the timeouts the harness
    (or the simulated gateway behind a server) waits by: a reply past them is a lost one."""
    ranges = profile.simulation or SimulationRanges()
    where = f"{profile.source}: " if profile.source else ""
    device_s, http_s = _timeouts_s(profile)
    checks = (("reply_latency_ms", device_s), ("http_latency_ms", http_s))
    for name, timeout_s in checks:
        high_ms = getattr(ranges, name)[1]
        if timeout_s is not None and high_ms > timeout_s * 1000.0 / 2:
            raise UsageError(
                f"{where}simulation.{name}: expected an upper bound at most half the request "
                f"timeout ({timeout_s * 500.0:g} ms), got {high_ms:g}"
            )


def seeded_start(profile: Profile, seed: int) -> SeededStart:
    """The start ``seed`` draws for ``profile``'s part. Every draw is made in the same order
    whatever the class, so a profile's ranges alone decide what a seed gives."""
    if not profile.is_simulated:
        raise UsageError("--seed: only a simulated run has a starting state to vary")
    check_ranges(profile)
    ranges = profile.simulation or SimulationRanges()
    key = part_key(profile)
    rng = _rng(seed, key)
    day = rng.randint(0, ranges.date_range_days)
    hours = rng.uniform(*ranges.time_of_day_range_h)
    # Whole minutes: a start a person can give back to --clock (YYYY-MM-DDTHH:MM).
    minute = min(int(hours * 60), 24 * 60 - 1)
    clock_start = SEED_EPOCH + timedelta(days=day, minutes=minute)
    soc_pct = round(rng.uniform(*ranges.soc_range_pct), 1)
    tank_temp_c = round(rng.uniform(*ranges.tank_temp_range_c), 1)
    meter_noise_w = round(rng.uniform(0.0, ranges.meter_noise_w), 1)
    reply_ms = round(rng.uniform(*ranges.reply_latency_ms), 1)
    http_ms = round(rng.uniform(*ranges.http_latency_ms), 1)
    noise_seed = rng.getrandbits(32)
    battery = DeviceClass(profile.device.device_class) is DeviceClass.BATTERY
    state = StartState(
        soc_pct=soc_pct if battery else None,
        tank_temp_c=None if battery else tank_temp_c,
        meter_noise_w=meter_noise_w if battery and _has_meter(profile) else 0.0,
        reply_latency_s=reply_ms / 1000.0,
        http_latency_s=http_ms / 1000.0 if profile.webapi is not None else 0.0,
        noise_seed=noise_seed,
    )
    return SeededStart(seed, key, clock_start, state)


def _has_meter(profile: Profile) -> bool:
    return profile.meter is not None
