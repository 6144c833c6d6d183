"""Times of day: seconds after the device's local midnight, written "HH:MM".

Heating start times, acceptance windows and night-heating periods are all times of day on the
device's own clock (JRAIA/JGKA drafts, HP-2.2 and HY-2.2); profiles, the OpenADR 3 payloads and
the reports write them "HH:MM". This is the one place that reads and writes them.
"""

from __future__ import annotations

import re
from typing import Final

from drready.model import DAY_S

__all__ = ["DAY_S", "in_period", "tod_seconds", "tod_text"]

_HHMM: Final = re.compile(r"(?P<hours>[0-9]{1,2}):(?P<minutes>[0-9]{2})")


def tod_seconds(text: str) -> int:
    """ "13:30" -> 48600 seconds after local midnight; ValueError for anything else."""
    match = _HHMM.fullmatch(text)
    if match is None or int(match["hours"]) > 23 or int(match["minutes"]) > 59:
        raise ValueError(f"not a time of day HH:MM: {text!r}")
    return int(match["hours"]) * 3600 + int(match["minutes"]) * 60


def tod_text(seconds: float) -> str:
    """Seconds after local midnight -> "HH:MM", to the nearest minute, wrapping at 24 h."""
    minutes = round(seconds / 60) % (DAY_S // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def in_period(tod_s: float, period: tuple[float, float]) -> bool:
    """Is ``tod_s`` in [start, end), a period of the day that may run over midnight?"""
    start, end = period
    if start <= end:
        return start <= tod_s < end
    return tod_s >= start or tod_s < end
