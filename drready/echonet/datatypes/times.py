"""MRA ``date``, ``time`` and ``date-time`` types (ECHONET Lite carries no time zone)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from drready.echonet.datatypes.base import Buffer, DataType, as_bytes, expect_length, is_integer
from drready.echonet.errors import DecodeError, EncodeError


@dataclass(frozen=True)
class DateType(DataType):
    """MRA ``date``: YYYY (2 bytes) MM DD, 4 bytes (Appendix Release R, e.g. EPC 0x98)."""

    kind: ClassVar[str] = "date"

    @property
    def size(self) -> int:
        return 4

    def decode(self, edt: Buffer) -> dt.date:
        data = as_bytes(edt)
        expect_length(data, 4)
        try:
            return dt.date(int.from_bytes(data[:2], "big"), data[2], data[3])
        except ValueError as exc:
            raise DecodeError(f"not a valid date: {exc}") from exc

    def encode(self, value: object) -> bytes:
        # datetime is a date subclass; refusing it avoids silently dropping the time part.
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise EncodeError(f"expected datetime.date, got {type(value).__name__}")
        return value.year.to_bytes(2, "big") + bytes([value.month, value.day])

    def samples(self) -> tuple[object, ...]:
        return (dt.date(2024, 7, 26), dt.date(1, 1, 1), dt.date(9999, 12, 31))


@dataclass(frozen=True)
class TimeType(DataType):
    """MRA ``time``: HH MM (size 2) or HH MM SS (size 3).

    Hours above 23 (``maximumOfHour``, used for durations) make the value a ``timedelta``.
    """

    kind: ClassVar[str] = "time"

    width: int = 2
    maximum_of_hour: int = 23

    def __post_init__(self) -> None:
        if self.width not in (2, 3):
            raise ValueError(f"time size must be 2 or 3, got {self.width!r}")
        if not is_integer(self.maximum_of_hour) or not 0 <= self.maximum_of_hour <= 0xFF:
            raise ValueError(f"maximumOfHour must be 0..255, got {self.maximum_of_hour!r}")

    @property
    def size(self) -> int:
        return self.width

    @property
    def _is_duration(self) -> bool:
        return self.maximum_of_hour > 23

    def decode(self, edt: Buffer) -> dt.time | dt.timedelta:
        data = as_bytes(edt)
        expect_length(data, self.width)
        hour, minute = data[0], data[1]
        second = data[2] if self.width == 3 else 0
        if hour > self.maximum_of_hour or minute > 59 or second > 59:
            raise DecodeError(f"not a valid time: {data.hex(':')}")
        if self._is_duration:
            return dt.timedelta(hours=hour, minutes=minute, seconds=second)
        return dt.time(hour, minute, second)

    def encode(self, value: object) -> bytes:
        if self._is_duration:
            if not isinstance(value, dt.timedelta):
                raise EncodeError(f"expected datetime.timedelta, got {type(value).__name__}")
            if value < dt.timedelta(0) or value.microseconds:
                raise EncodeError(f"{value} is negative or has sub-second parts")
            hour, rest = divmod(int(value.total_seconds()), 3600)
            minute, second = divmod(rest, 60)
            if hour > self.maximum_of_hour:
                raise EncodeError(f"{value} exceeds {self.maximum_of_hour} hours")
        else:
            if not isinstance(value, dt.time):
                raise EncodeError(f"expected datetime.time, got {type(value).__name__}")
            if value.tzinfo is not None or value.microsecond:
                raise EncodeError(f"{value} has a time zone or sub-second parts")
            hour, minute, second = value.hour, value.minute, value.second
        if self.width == 2 and second:
            raise EncodeError(f"{value} has seconds, but this time has no seconds byte")
        out = bytes([hour, minute])
        return out + bytes([second]) if self.width == 3 else out

    def samples(self) -> tuple[object, ...]:
        second = 56 if self.width == 3 else 0
        if self._is_duration:
            top = dt.timedelta(hours=self.maximum_of_hour, minutes=59, seconds=second)
            return (dt.timedelta(hours=12, minutes=34, seconds=second), dt.timedelta(0), top)
        return (dt.time(12, 34, second), dt.time(0, 0), dt.time(23, 59, second))


@dataclass(frozen=True)
class DateTimeType(DataType):
    """MRA ``date-time``: YYYY (2 bytes) MM DD hh mm [ss]; size 6 or 7."""

    kind: ClassVar[str] = "date-time"

    width: int = 7

    def __post_init__(self) -> None:
        if self.width not in (6, 7):
            raise ValueError(f"date-time size must be 6 or 7, got {self.width!r}")

    @property
    def size(self) -> int:
        return self.width

    def decode(self, edt: Buffer) -> dt.datetime:
        data = as_bytes(edt)
        expect_length(data, self.width)
        second = data[6] if self.width == 7 else 0
        try:
            year = int.from_bytes(data[:2], "big")
            return dt.datetime(year, data[2], data[3], data[4], data[5], second)
        except ValueError as exc:
            raise DecodeError(f"not a valid date-time: {exc}") from exc

    def encode(self, value: object) -> bytes:
        if not isinstance(value, dt.datetime):
            raise EncodeError(f"expected datetime.datetime, got {type(value).__name__}")
        if value.tzinfo is not None or value.microsecond:
            raise EncodeError(f"{value} has a time zone or sub-second parts")
        if self.width == 6 and value.second:
            raise EncodeError(f"{value} has seconds, but this date-time has no seconds byte")
        out = value.year.to_bytes(2, "big") + bytes(
            [value.month, value.day, value.hour, value.minute]
        )
        return out + bytes([value.second]) if self.width == 7 else out

    def samples(self) -> tuple[object, ...]:
        second = 56 if self.width == 7 else 0
        return (dt.datetime(2024, 7, 26, 12, 34, second),)
