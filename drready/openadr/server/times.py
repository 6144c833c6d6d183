"""Wire times and durations of OpenADR 3: RFC 3339 timestamps and ISO 8601 durations.

Every timestamp comes from ``datetime.now(UTC)``, so the servicer runs unchanged on drready's
virtual-time loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: User Guide, intervalPeriod.duration: "P9999Y" stands for infinity.
INFINITE_DURATION = "P9999Y"

# ISO 8601 duration parts in seconds; months and years are approximate (only used to tell
# whether an event has ended, for the ``active`` query).
_DURATION_PARTS = (("Y", 365 * 86400.0), ("M", 30 * 86400.0), ("W", 7 * 86400.0), ("D", 86400.0))
_TIME_PARTS = (("H", 3600.0), ("M", 60.0), ("S", 1.0))


def now_epoch() -> float:
    return datetime.now(UTC).timestamp()


def rfc3339(epoch: float | None = None) -> str:
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_duration(seconds: float | None) -> str:
    """``PT...S`` for a number of seconds; :data:`INFINITE_DURATION` for None."""
    if seconds is None:
        return INFINITE_DURATION
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative ({seconds} s)")
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - whole
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if secs or fraction or text == "PT":
        text += f"{secs + fraction:g}S" if fraction else f"{secs}S"
    return text


def aware(moment: datetime) -> datetime:
    """The datetime itself, refused when naive: a wire time needs a timezone."""
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime ({moment}) has no place on the wire: give a timezone")
    return moment


def duration_seconds(text: str) -> float | None:
    """Seconds of an ISO 8601 duration; None for ``P9999Y`` (infinity) or an unreadable one."""
    if text == INFINITE_DURATION:
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("-")
    if not body.startswith("P"):
        return None
    date_part, _, time_part = body[1:].partition("T")
    total = 0.0
    for part, units in ((date_part, _DURATION_PARTS), (time_part, _TIME_PARTS)):
        number = ""
        for char in part:
            if char.isdigit() or char == ".":
                number += char
                continue
            scale = dict(units).get(char)
            if scale is None or not number:
                return None
            total += float(number) * scale
            number = ""
        if number:
            return None
    return sign * total


def event_end(event: Mapping[str, Any]) -> float | None:
    """When an event ends (epoch seconds), or None if it does not or cannot be told."""
    period = event.get("intervalPeriod") or {}
    start_text = period.get("start")
    if not start_text or str(start_text).startswith("0001-01-01"):
        return None
    duration = event.get("duration") or period.get("duration")
    if duration is None:
        return None
    seconds = duration_seconds(str(duration))
    if seconds is None:
        return None
    if len(event.get("intervals") or []) > 1 and not event.get("duration"):
        seconds *= len(event["intervals"])
    start = datetime.fromisoformat(str(start_text).replace("Z", "+00:00").replace("z", "+00:00"))
    if start.tzinfo is None:
        return None
    return start.timestamp() + seconds
