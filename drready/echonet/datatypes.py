"""EDT codecs for the data types of the ECHONET Consortium Machine Readable Appendix (MRA).

Each class here models one MRA ``data`` "type" (MRA v1.3.0, data format 1.2.0) and converts
between a property value's EDT bytes and a plain Python value, strictly: a wrong length, a
value outside the declared range or an undefined code raises :class:`DecodeError` /
:class:`EncodeError` instead of being passed through. Error messages describe the problem
without the EPC; :class:`drready.echonet.properties.PropertyDef` adds that context.

Python values, per MRA type:

========== =====================================================================
number     ``int``; ``float`` when ``multiple`` is fractional (kWh x 0.001);
           ``"overflow"`` / ``"underflow"`` when the type declares those codes
state      the state's ``name`` (``str``), e.g. ``"auto"``, ``"true"``; a
           :class:`CodedState` (name + code) when the name alone is ambiguous
level      ``int`` level, ``minimum..maximum`` (1-based unless the MRA says otherwise)
raw        ``bytes``
date       ``datetime.date``
time       ``datetime.time`` (``datetime.timedelta`` when hours may exceed 23)
date-time  naive ``datetime.datetime`` (ECHONET Lite carries no time zone)
object     ``dict`` element shortName -> element value, in MRA order
array      ``list`` of item values
bitmap     ``dict`` bit-field name -> state name
oneOf      whatever the first matching alternative produces
========== =====================================================================

These classes hold no MRA parsing logic; :mod:`drready.echonet.properties` builds them from
the JSON files.
"""

from __future__ import annotations

import abc
import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar, Final

from drready.echonet.errors import DecodeError, EncodeError

__all__ = [
    "ArrayType",
    "BitField",
    "BitmapType",
    "Buffer",
    "CodedState",
    "DataType",
    "DateTimeType",
    "DateType",
    "LevelType",
    "NumberType",
    "ObjectElement",
    "ObjectType",
    "OneOfType",
    "RawType",
    "StateType",
    "StateValue",
    "TimeType",
]

#: What ``decode`` accepts: any bytes-like EDT (it is copied to ``bytes`` first).
Buffer = bytes | bytearray | memoryview

# MRA number "format" -> (EDT bytes, signed). These are the only formats MRA v1.3.0 uses
# (definitions.json and every class file).
_NUMBER_FORMATS: Final[Mapping[str, tuple[int, bool]]] = {
    "int8": (1, True),
    "uint8": (1, False),
    "int16": (2, True),
    "uint16": (2, False),
    "int32": (4, True),
    "uint32": (4, False),
}

# How far value / multiple may sit from an integer and still encode. Division happens in
# Decimal on the float's shortest text (1.234 / 0.001 is exactly 1234); the tolerance only
# absorbs float arithmetic noise (0.1 + 0.2 = 0.30000000000000004 encodes as raw 3 with
# multiple 0.1), while a real remainder (1.2345 kWh with multiple 0.001) is refused.
_SCALE_TOLERANCE: Final = Decimal("1e-9")

# Largest EDT a property can carry: PDC is a single byte (ECHONET Lite Spec. Part 2 §3.2.5).
_MAX_EDT: Final = 255


def _as_bytes(edt: object) -> bytes:
    if isinstance(edt, bytes | bytearray | memoryview):
        return bytes(edt)
    raise DecodeError(f"EDT must be bytes, not {type(edt).__name__}")


def _plural(n: int) -> str:
    return f"{n} byte" if n == 1 else f"{n} bytes"


def _expect_length(edt: bytes, size: int) -> None:
    if len(edt) != size:
        raise DecodeError(f"expected {_plural(size)}, got {len(edt)}")


def _is_integer(value: object) -> bool:
    # bool is an int subclass but True is never a meaningful EDT number.
    return isinstance(value, int) and not isinstance(value, bool)


def _unique(values: Sequence[object]) -> tuple[object, ...]:
    seen: list[object] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return tuple(seen)


@dataclass(frozen=True)
class DataType(abc.ABC):
    """One MRA data type: a strict EDT codec.

    ``size`` is the fixed EDT length in bytes, or ``None`` when the length varies.
    """

    #: The MRA ``type`` keyword this class implements.
    kind: ClassVar[str] = ""

    @property
    @abc.abstractmethod
    def size(self) -> int | None:
        """Fixed EDT length in bytes, ``None`` if variable."""

    @abc.abstractmethod
    def encode(self, value: object) -> bytes:
        """Python value -> EDT bytes; :class:`EncodeError` if the value is not valid."""

    @abc.abstractmethod
    def decode(self, edt: Buffer) -> object:
        """EDT bytes -> Python value; :class:`DecodeError` if the bytes are not valid."""

    @abc.abstractmethod
    def samples(self) -> tuple[object, ...]:
        """A few valid values (boundaries, every state...), for round-trip tests and simulators."""

    def sample(self) -> object:
        """One valid value."""
        return self.samples()[0]


@dataclass(frozen=True)
class NumberType(DataType):
    """MRA ``number``: a big-endian integer, optionally scaled by ``multiple``.

    ``minimum`` / ``maximum`` / ``enum`` / ``multiple_of`` constrain the *raw* integer, as in the
    MRA (``number_0-999999.999kWh`` is raw 0..999999999 with multiple 0.001).
    """

    kind: ClassVar[str] = "number"

    format: str
    minimum: int | None = None
    maximum: int | None = None
    unit: str | None = None
    multiple: int | float | None = None
    enum: tuple[int, ...] = ()
    multiple_of: int | None = None
    # EPCs whose value is a further coefficient (e.g. a meter's unit property). Applying it needs
    # another property's value, so decode returns the value *before* that coefficient.
    coefficient: tuple[int, ...] = ()
    overflow_code: bool = False
    underflow_code: bool = False

    def __post_init__(self) -> None:
        if self.format not in _NUMBER_FORMATS:
            raise ValueError(f"unknown number format {self.format!r}")
        lo, hi = self._format_range()
        for label, bound in (("minimum", self.minimum), ("maximum", self.maximum)):
            if bound is not None and (not _is_integer(bound) or not lo <= bound <= hi):
                raise ValueError(f"{label} {bound!r} does not fit {self.format}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} > maximum {self.maximum}")
        for item in self.enum:
            if not _is_integer(item) or not lo <= item <= hi:
                raise ValueError(f"enum value {item!r} does not fit {self.format}")
        if self.multiple is not None and (
            isinstance(self.multiple, bool)
            or not isinstance(self.multiple, int | float)
            or not self.multiple > 0
        ):
            raise ValueError(f"multiple must be a positive number, got {self.multiple!r}")
        if self.multiple_of is not None and (
            not _is_integer(self.multiple_of) or self.multiple_of <= 0
        ):
            raise ValueError(f"multipleOf must be a positive integer, got {self.multiple_of!r}")
        if not self._allowed_raw_samples():
            raise ValueError("no raw value satisfies the constraints")

    # -- helpers -------------------------------------------------------------------------
    def _format_range(self) -> tuple[int, int]:
        width, signed = _NUMBER_FORMATS[self.format]
        if signed:
            return -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1
        return 0, (1 << (8 * width)) - 1

    @property
    def raw_minimum(self) -> int:
        """Smallest valid raw integer (format minimum when the MRA gives none)."""
        if self.minimum is not None:
            return self.minimum
        return min(self.enum) if self.enum else self._format_range()[0]

    @property
    def raw_maximum(self) -> int:
        """Largest valid raw integer (format maximum when the MRA gives none)."""
        if self.maximum is not None:
            return self.maximum
        return max(self.enum) if self.enum else self._format_range()[1]

    @property
    def _signed(self) -> bool:
        return _NUMBER_FORMATS[self.format][1]

    def _special_codes(self) -> dict[str, int]:
        # Overflow / underflow codes of ECHONET Lite numeric EDTs (Appendix Release R,
        # chapter 1): unsigned -> all ones / all ones - 1; signed -> max / min of the format.
        lo, hi = self._format_range()
        codes: dict[str, int] = {}
        if self.overflow_code:
            codes["overflow"] = hi
        if self.underflow_code:
            codes["underflow"] = lo if self._signed else hi - 1
        return codes

    def _raw_problem(self, raw: int) -> str | None:
        for name, code in self._special_codes().items():
            if raw == code:
                return f"value {raw} is the {name} code"
        if self.enum and raw not in self.enum:
            return f"value {raw} is not one of {list(self.enum)}"
        if not self.raw_minimum <= raw <= self.raw_maximum:
            return f"value {raw} out of range [{self.raw_minimum}, {self.raw_maximum}]"
        if self.multiple_of is not None and raw % self.multiple_of:
            return f"value {raw} is not a multiple of {self.multiple_of}"
        return None

    def _scale(self, raw: int) -> int | float:
        if self.multiple is None:
            return raw
        scaled = Decimal(raw) * Decimal(str(self.multiple))
        if isinstance(self.multiple, int):
            return int(scaled)
        return float(scaled)

    def _allowed_raw_samples(self) -> tuple[int, ...]:
        if self.enum:
            candidates: list[int] = list(self.enum)
        else:
            lo, hi = self.raw_minimum, self.raw_maximum
            candidates = [lo, hi, (lo + hi) // 2]
            if self.multiple_of is not None:
                step = self.multiple_of
                candidates = [c - c % step for c in candidates] + [lo + (-lo) % step]
        return tuple(c for c in dict.fromkeys(candidates) if self._raw_problem(c) is None)

    @property
    def scaled_minimum(self) -> int | float:
        """Smallest valid Python value (raw minimum x multiple)."""
        return self._scale(self.raw_minimum)

    @property
    def scaled_maximum(self) -> int | float:
        """Largest valid Python value (raw maximum x multiple)."""
        return self._scale(self.raw_maximum)

    # -- DataType ------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return _NUMBER_FORMATS[self.format][0]

    def decode(self, edt: Buffer) -> int | float | str:
        data = _as_bytes(edt)
        _expect_length(data, self.size)
        raw = int.from_bytes(data, "big", signed=self._signed)
        for name, code in self._special_codes().items():
            if raw == code:
                return name
        problem = self._raw_problem(raw)
        if problem is not None:
            raise DecodeError(problem)
        return self._scale(raw)

    def encode(self, value: object) -> bytes:
        if isinstance(value, str):
            codes = self._special_codes()
            if value not in codes:
                raise EncodeError(f"{value!r} is not a number")
            raw = codes[value]
        else:
            raw = self._to_raw(value)
            problem = self._raw_problem(raw)
            if problem is not None:
                raise EncodeError(problem)
        return raw.to_bytes(self.size, "big", signed=self._signed)

    def _to_raw(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise EncodeError(f"expected a number, got {type(value).__name__}")
        try:
            exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            if not exact.is_finite():
                raise EncodeError(f"{value!r} is not finite")
            if self.multiple is not None:
                exact /= Decimal(str(self.multiple))
            raw = exact.to_integral_value()
        except InvalidOperation as exc:
            raise EncodeError(f"cannot convert {value!r}: {exc}") from exc
        if abs(exact - raw) > _SCALE_TOLERANCE:
            step = self.multiple if self.multiple is not None else 1
            raise EncodeError(f"{value!r} is not a multiple of {step}")
        return int(raw)

    def samples(self) -> tuple[object, ...]:
        scaled = [self._scale(raw) for raw in self._allowed_raw_samples()]
        return _unique([*scaled, *self._special_codes()])


@dataclass(frozen=True)
class StateValue:
    """One entry of an MRA state ``enum``: an EDT code (or code range) and its name.

    MRA writes a range as ``"0x000a...0x0013"`` (superclass 0x89 fault description); ``last``
    is then the inclusive upper code, ``None`` for a single code.
    """

    edt: int
    name: str
    description_ja: str = ""
    description_en: str = ""
    # MRA "readOnly": a device may report this state but a controller must not Set it.
    read_only: bool = False
    last: int | None = None

    def __post_init__(self) -> None:
        if not _is_integer(self.edt) or self.edt < 0:
            raise ValueError(f"state code must be a non-negative int, got {self.edt!r}")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"state name must be a non-empty str, got {self.name!r}")
        if self.last is not None and (not _is_integer(self.last) or self.last <= self.edt):
            raise ValueError(f"state {self.name!r}: bad code range 0x{self.edt:X}..{self.last!r}")

    @property
    def top(self) -> int:
        """Highest code of this entry."""
        return self.edt if self.last is None else self.last

    def covers(self, code: int) -> bool:
        return self.edt <= code <= self.top


@dataclass(frozen=True)
class CodedState:
    """Decoded state whose name alone does not identify its EDT code: the name plus the code.

    Used for entries spanning a code range (``0x89`` "abnormalEventOrSafety" is
    0x000A..0x0013) and for codes sharing a name with an earlier entry (superclass ``0x93``
    from Release H: 0x41 and 0x61 are both "true"). A bare name encodes to the first
    single-code entry of that name; this object encodes back to exactly ``code``.
    """

    name: str
    code: int


def _check_states(values: tuple[StateValue, ...], limit: int, what: str) -> None:
    if not values:
        raise ValueError(f"{what} needs at least one state")
    spans = sorted((v.edt, v.top) for v in values)
    for (_, previous_top), (first, _) in itertools.pairwise(spans):
        if first <= previous_top:
            raise ValueError(f"{what} has overlapping state codes")
    for v in values:
        if v.top > limit:
            raise ValueError(f"{what}: state code 0x{v.top:X} does not fit")


@dataclass(frozen=True)
class StateType(DataType):
    """MRA ``state``: a fixed-size code with a name per defined value (or value range)."""

    kind: ClassVar[str] = "state"

    width: int
    values: tuple[StateValue, ...]

    def __post_init__(self) -> None:
        if not _is_integer(self.width) or not 1 <= self.width <= _MAX_EDT:
            raise ValueError(f"state size must be 1..{_MAX_EDT}, got {self.width!r}")
        _check_states(self.values, (1 << (8 * self.width)) - 1, "state")

    @property
    def size(self) -> int:
        return self.width

    def _canonical(self) -> dict[str, StateValue]:
        # name -> the entry a bare name stands for: the first single-code entry of that name.
        canonical: dict[str, StateValue] = {}
        for v in self.values:
            if v.last is None:
                canonical.setdefault(v.name, v)
        return canonical

    @property
    def names(self) -> tuple[str, ...]:
        """Names that encode on their own (each stands for one code), in MRA order."""
        return tuple(self._canonical())

    @property
    def read_only_names(self) -> frozenset[str]:
        """Names a device may report but a controller must not Set."""
        return frozenset(v.name for v in self.values if v.read_only)

    def code_of(self, name: str) -> int:
        """EDT code a bare state ``name`` encodes to (``KeyError`` if none)."""
        return self._canonical()[name].edt

    def _hex(self, code: int) -> str:
        return f"0x{code:0{2 * self.width}X}"

    def decode(self, edt: Buffer) -> str | CodedState:
        data = _as_bytes(edt)
        _expect_length(data, self.width)
        code = int.from_bytes(data, "big")
        for v in self.values:
            if v.covers(code):
                if self._canonical().get(v.name) is v:
                    return v.name
                return CodedState(v.name, code)
        defined = ", ".join(
            self._hex(v.edt) if v.last is None else f"{self._hex(v.edt)}..{self._hex(v.top)}"
            for v in self.values
        )
        raise DecodeError(f"{self._hex(code)} is not a defined state (expected one of {defined})")

    def encode(self, value: object) -> bytes:
        if isinstance(value, CodedState):
            if not any(v.name == value.name and v.covers(value.code) for v in self.values):
                raise EncodeError(f"{value!r}: no state of that name has that code")
            return value.code.to_bytes(self.width, "big")
        canonical = self._canonical()
        if not isinstance(value, str) or value not in canonical:
            raise EncodeError(f"{value!r} is not a state name; expected one of {list(canonical)}")
        return canonical[value].edt.to_bytes(self.width, "big")

    def samples(self) -> tuple[object, ...]:
        canonical = self._canonical()
        extra = [
            CodedState(v.name, code)
            for v in self.values
            if canonical.get(v.name) is not v
            for code in dict.fromkeys((v.edt, v.top))
        ]
        return (*canonical, *extra)


@dataclass(frozen=True)
class LevelType(DataType):
    """MRA ``level``: one byte, ``edt = base + (level - minimum)``.

    Reading of the MRA: ``base`` is the code of the lowest level and levels count from
    ``minimum`` (1 when absent) to ``maximum`` (``level_31-8``: 0x31..0x38 = levels 1..8).
    """

    kind: ClassVar[str] = "level"

    base: int
    maximum: int
    minimum: int = 1

    def __post_init__(self) -> None:
        for label, number in (("base", self.base), ("maximum", self.maximum)):
            if not _is_integer(number):
                raise ValueError(f"level {label} must be an int, got {number!r}")
        if not _is_integer(self.minimum) or self.minimum > self.maximum:
            raise ValueError(f"level minimum {self.minimum!r} > maximum {self.maximum}")
        if not 0 <= self.base <= 0xFF or self.base + self.maximum - self.minimum > 0xFF:
            raise ValueError("level codes do not fit one byte")

    @property
    def size(self) -> int:
        return 1

    def decode(self, edt: Buffer) -> int:
        data = _as_bytes(edt)
        _expect_length(data, 1)
        level = data[0] - self.base + self.minimum
        if not self.minimum <= level <= self.maximum:
            top = self.base + self.maximum - self.minimum
            raise DecodeError(
                f"0x{data[0]:02X} is not a level code (0x{self.base:02X}..0x{top:02X})"
            )
        return level

    def encode(self, value: object) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EncodeError(f"expected an int level, got {type(value).__name__}")
        if not self.minimum <= value <= self.maximum:
            raise EncodeError(f"level {value} out of range [{self.minimum}, {self.maximum}]")
        return bytes([self.base + value - self.minimum])

    def samples(self) -> tuple[object, ...]:
        return _unique([self.minimum, self.maximum])


@dataclass(frozen=True)
class RawType(DataType):
    """MRA ``raw``: opaque bytes of ``min_size..max_size`` length."""

    kind: ClassVar[str] = "raw"

    min_size: int
    max_size: int

    def __post_init__(self) -> None:
        if not (_is_integer(self.min_size) and _is_integer(self.max_size)):
            raise ValueError("raw sizes must be ints")
        if not 0 <= self.min_size <= self.max_size <= _MAX_EDT:
            raise ValueError(f"raw size range {self.min_size}..{self.max_size} is not valid")

    @property
    def size(self) -> int | None:
        return self.min_size if self.min_size == self.max_size else None

    def _check(self, length: int) -> str | None:
        if self.min_size <= length <= self.max_size:
            return None
        if self.min_size == self.max_size:
            return f"expected {_plural(self.min_size)}, got {length}"
        return f"expected {self.min_size}..{self.max_size} bytes, got {length}"

    def decode(self, edt: Buffer) -> bytes:
        data = _as_bytes(edt)
        problem = self._check(len(data))
        if problem is not None:
            raise DecodeError(problem)
        return data

    def encode(self, value: object) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise EncodeError(f"expected bytes, got {type(value).__name__}")
        data = bytes(value)
        problem = self._check(len(data))
        if problem is not None:
            raise EncodeError(problem)
        return data

    def samples(self) -> tuple[object, ...]:
        return _unique([bytes(range(1, n + 1)) for n in (self.min_size, self.max_size)])


@dataclass(frozen=True)
class DateType(DataType):
    """MRA ``date``: YYYY (2 bytes) MM DD, 4 bytes (Appendix Release R, e.g. EPC 0x98)."""

    kind: ClassVar[str] = "date"

    @property
    def size(self) -> int:
        return 4

    def decode(self, edt: Buffer) -> dt.date:
        data = _as_bytes(edt)
        _expect_length(data, 4)
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
        if not _is_integer(self.maximum_of_hour) or not 0 <= self.maximum_of_hour <= 0xFF:
            raise ValueError(f"maximumOfHour must be 0..255, got {self.maximum_of_hour!r}")

    @property
    def size(self) -> int:
        return self.width

    @property
    def _is_duration(self) -> bool:
        return self.maximum_of_hour > 23

    def decode(self, edt: Buffer) -> dt.time | dt.timedelta:
        data = _as_bytes(edt)
        _expect_length(data, self.width)
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
        data = _as_bytes(edt)
        _expect_length(data, self.width)
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


@dataclass(frozen=True)
class ObjectElement:
    """One element of an MRA ``object``."""

    short_name: str
    data: DataType
    name_ja: str = ""
    name_en: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.short_name, str) or not self.short_name:
            raise ValueError(f"element shortName must be a non-empty str: {self.short_name!r}")
        if not isinstance(self.data, DataType):
            raise ValueError(f"element {self.short_name!r} data is not a DataType")


@dataclass(frozen=True)
class ObjectType(DataType):
    """MRA ``object``: elements laid out back to back in MRA order.

    Only the last element may have a variable size (it takes the remaining bytes), which is
    how the MRA describes e.g. instance lists (count + EOJ array, node profile 0xD5/0xD6).
    """

    kind: ClassVar[str] = "object"

    elements: tuple[ObjectElement, ...]

    def __post_init__(self) -> None:
        if not self.elements:
            raise ValueError("object needs at least one element")
        names = [e.short_name for e in self.elements]
        if len(set(names)) != len(names):
            raise ValueError(f"object has duplicate element names: {names}")
        for element in self.elements[:-1]:
            if element.data.size is None:
                raise ValueError(
                    f"element {element.short_name!r} has no fixed size but is not last"
                )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.short_name for e in self.elements)

    @property
    def size(self) -> int | None:
        sizes = [e.data.size for e in self.elements]
        total = 0
        for size in sizes:
            if size is None:
                return None
            total += size
        return total

    def decode(self, edt: Buffer) -> dict[str, object]:
        data = _as_bytes(edt)
        fixed = sum(e.data.size or 0 for e in self.elements[:-1])
        if len(data) < fixed or (self.size is not None and len(data) != self.size):
            expected = _plural(self.size) if self.size is not None else f"at least {fixed} bytes"
            raise DecodeError(f"expected {expected}, got {len(data)}")
        result: dict[str, object] = {}
        offset = 0
        for element in self.elements:
            width = element.data.size
            chunk = data[offset:] if width is None else data[offset : offset + width]
            offset += len(chunk)
            try:
                result[element.short_name] = element.data.decode(chunk)
            except DecodeError as exc:
                raise DecodeError(f"element {element.short_name!r}: {exc}") from exc
        return result

    def encode(self, value: object) -> bytes:
        if not isinstance(value, Mapping):
            raise EncodeError(
                f"expected a mapping of {list(self.names)}, got {type(value).__name__}"
            )
        if set(value) != set(self.names):
            missing = [n for n in self.names if n not in value]
            extra = sorted(str(k) for k in value if k not in self.names)
            raise EncodeError(f"object keys mismatch: missing {missing}, unexpected {extra}")
        out = bytearray()
        for element in self.elements:
            try:
                out += element.data.encode(value[element.short_name])
            except EncodeError as exc:
                raise EncodeError(f"element {element.short_name!r}: {exc}") from exc
        return bytes(out)

    def samples(self) -> tuple[object, ...]:
        # Element i of sample k uses that element's k-th sample (cycling), so boundary values of
        # every element show up without a combinatorial product.
        per_element = [e.data.samples() for e in self.elements]
        count = max(len(s) for s in per_element)
        return tuple(
            {e.short_name: s[k % len(s)] for e, s in zip(self.elements, per_element, strict=True)}
            for k in range(count)
        )


@dataclass(frozen=True)
class ArrayType(DataType):
    """MRA ``array``: ``min_items..max_items`` items of ``item_size`` bytes each."""

    kind: ClassVar[str] = "array"

    item_size: int
    items: DataType
    max_items: int
    min_items: int = 0

    def __post_init__(self) -> None:
        if not _is_integer(self.item_size) or self.item_size < 1:
            raise ValueError(f"itemSize must be a positive int, got {self.item_size!r}")
        if not isinstance(self.items, DataType):
            raise ValueError("array items is not a DataType")
        if self.items.size is not None and self.items.size != self.item_size:
            raise ValueError(f"itemSize {self.item_size} != item type size {self.items.size}")
        if not (_is_integer(self.min_items) and _is_integer(self.max_items)):
            raise ValueError("minItems/maxItems must be ints")
        if not 0 <= self.min_items <= self.max_items:
            raise ValueError(f"item count range {self.min_items}..{self.max_items} is not valid")

    @property
    def size(self) -> int | None:
        return self.item_size * self.max_items if self.min_items == self.max_items else None

    def _check_count(self, count: int) -> str | None:
        if self.min_items <= count <= self.max_items:
            return None
        return f"{count} items, expected {self.min_items}..{self.max_items}"

    def decode(self, edt: Buffer) -> list[object]:
        data = _as_bytes(edt)
        if len(data) % self.item_size:
            raise DecodeError(
                f"{len(data)} bytes is not a whole number of {self.item_size}-byte items"
            )
        problem = self._check_count(len(data) // self.item_size)
        if problem is not None:
            raise DecodeError(problem)
        items: list[object] = []
        for index in range(0, len(data), self.item_size):
            try:
                items.append(self.items.decode(data[index : index + self.item_size]))
            except DecodeError as exc:
                raise DecodeError(f"item {index // self.item_size}: {exc}") from exc
        return items

    def encode(self, value: object) -> bytes:
        if not isinstance(value, Sequence) or isinstance(value, str | bytes | bytearray):
            raise EncodeError(f"expected a sequence of items, got {type(value).__name__}")
        problem = self._check_count(len(value))
        if problem is not None:
            raise EncodeError(problem)
        out = bytearray()
        for index, item in enumerate(value):
            try:
                chunk = self.items.encode(item)
            except EncodeError as exc:
                raise EncodeError(f"item {index}: {exc}") from exc
            if len(chunk) != self.item_size:
                raise EncodeError(
                    f"item {index} encodes to {len(chunk)} bytes, not {self.item_size}"
                )
            out += chunk
        return bytes(out)

    def samples(self) -> tuple[object, ...]:
        pool = self.items.samples()
        # One list using every item sample (within the count limits), and the shortest list.
        counts = dict.fromkeys(
            [max(self.min_items, min(self.max_items, len(pool))), self.min_items]
        )
        return tuple([pool[i % len(pool)] for i in range(n)] for n in counts)


@dataclass(frozen=True)
class BitField:
    """One named field of an MRA ``bitmap``: ``bit_mask`` bits of EDT byte ``index``."""

    name: str
    index: int
    bit_mask: int
    values: tuple[StateValue, ...]
    description_ja: str = ""
    description_en: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"bit field name must be a non-empty str: {self.name!r}")
        if not _is_integer(self.index) or self.index < 0:
            raise ValueError(f"bit field {self.name!r}: index must be >= 0")
        if not _is_integer(self.bit_mask) or not 0 < self.bit_mask <= 0xFF:
            raise ValueError(f"bit field {self.name!r}: bitMask must be 1..0xFF")
        _check_states(self.values, self.bit_mask >> self.shift, f"bit field {self.name!r}")
        if any(v.last is not None for v in self.values):
            raise ValueError(f"bit field {self.name!r}: code ranges are not supported")
        if len({v.name for v in self.values}) != len(self.values):
            raise ValueError(f"bit field {self.name!r}: duplicate value names")

    @property
    def shift(self) -> int:
        """Position of the mask's lowest bit; state codes are the field value after shifting."""
        return (self.bit_mask & -self.bit_mask).bit_length() - 1


@dataclass(frozen=True)
class BitmapType(DataType):
    """MRA ``bitmap``: named bit fields over a fixed-size EDT.

    Reading of the MRA: ``position.index`` is the byte offset from the start of the EDT
    (index 0 = first byte transmitted) and each field's state codes are the masked bits
    shifted down. Bits no field covers are reserved and must be 0; anything else is rejected.
    """

    kind: ClassVar[str] = "bitmap"

    width: int
    fields: tuple[BitField, ...]

    def __post_init__(self) -> None:
        if not _is_integer(self.width) or not 1 <= self.width <= _MAX_EDT:
            raise ValueError(f"bitmap size must be 1..{_MAX_EDT}, got {self.width!r}")
        if not self.fields:
            raise ValueError("bitmap needs at least one field")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"bitmap has duplicate field names: {names}")
        used = [0] * self.width
        for field in self.fields:
            if field.index >= self.width:
                raise ValueError(
                    f"bit field {field.name!r} is outside the {self.width}-byte bitmap"
                )
            if used[field.index] & field.bit_mask:
                raise ValueError(f"bit field {field.name!r} overlaps another field")
            used[field.index] |= field.bit_mask

    @property
    def size(self) -> int:
        return self.width

    def _used_masks(self) -> list[int]:
        used = [0] * self.width
        for field in self.fields:
            used[field.index] |= field.bit_mask
        return used

    def decode(self, edt: Buffer) -> dict[str, str]:
        data = _as_bytes(edt)
        _expect_length(data, self.width)
        for index, (byte, mask) in enumerate(zip(data, self._used_masks(), strict=True)):
            if byte & ~mask:
                raise DecodeError(f"reserved bits set in byte {index}: 0x{byte & ~mask & 0xFF:02X}")
        result: dict[str, str] = {}
        for field in self.fields:
            code = (data[field.index] & field.bit_mask) >> field.shift
            names = [v.name for v in field.values if v.edt == code]
            if not names:
                raise DecodeError(f"bit field {field.name!r}: {code} is not a defined value")
            result[field.name] = names[0]
        return result

    def encode(self, value: object) -> bytes:
        names = [f.name for f in self.fields]
        if not isinstance(value, Mapping) or set(value) != set(names):
            raise EncodeError(f"expected a mapping with exactly the keys {names}")
        out = bytearray(self.width)
        for field in self.fields:
            wanted = value[field.name]
            codes = [v.edt for v in field.values if v.name == wanted]
            if not codes:
                allowed = [v.name for v in field.values]
                raise EncodeError(f"bit field {field.name!r}: {wanted!r} is not one of {allowed}")
            out[field.index] |= codes[0] << field.shift
        return bytes(out)

    def samples(self) -> tuple[object, ...]:
        count = max(len(f.values) for f in self.fields)
        return tuple(
            {f.name: f.values[k % len(f.values)].name for f in self.fields} for k in range(count)
        )


@dataclass(frozen=True)
class OneOfType(DataType):
    """MRA ``oneOf``: the first alternative (in MRA order) that accepts the value wins.

    Typical use: a number range plus special codes such as ``noSetting`` (0x00000000) or
    ``undefined`` (0xFD). Decoding and encoding both try the alternatives in the same order,
    so a value decoded by alternative *k* encodes back through alternative *k*.
    """

    kind: ClassVar[str] = "oneOf"

    alternatives: tuple[DataType, ...]

    def __post_init__(self) -> None:
        if not self.alternatives or not all(isinstance(a, DataType) for a in self.alternatives):
            raise ValueError("oneOf needs at least one DataType alternative")

    @property
    def size(self) -> int | None:
        sizes = {a.size for a in self.alternatives}
        if len(sizes) == 1:
            return sizes.pop()
        return None

    def decode(self, edt: Buffer) -> object:
        reasons: list[str] = []
        for alternative in self.alternatives:
            try:
                return alternative.decode(edt)
            except DecodeError as exc:
                reasons.append(f"{alternative.kind}: {exc}")
        raise DecodeError("no alternative matches (" + "; ".join(reasons) + ")")

    def encode(self, value: object) -> bytes:
        reasons: list[str] = []
        for alternative in self.alternatives:
            try:
                return alternative.encode(value)
            except EncodeError as exc:
                reasons.append(f"{alternative.kind}: {exc}")
        raise EncodeError("no alternative accepts the value (" + "; ".join(reasons) + ")")

    def samples(self) -> tuple[object, ...]:
        return _unique([s for a in self.alternatives for s in a.samples()])
