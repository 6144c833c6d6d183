"""MRA types whose EDT is a code: ``state`` (named codes), ``level`` and ``raw`` bytes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

from drready.echonet.datatypes.base import (
    MAX_EDT,
    Buffer,
    DataType,
    as_bytes,
    expect_length,
    is_integer,
    plural,
    unique,
)
from drready.echonet.errors import DecodeError, EncodeError


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
        if not is_integer(self.edt) or self.edt < 0:
            raise ValueError(f"state code must be a non-negative int, got {self.edt!r}")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"state name must be a non-empty str, got {self.name!r}")
        if self.last is not None and (not is_integer(self.last) or self.last <= self.edt):
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


def check_states(values: tuple[StateValue, ...], limit: int, what: str) -> None:
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
        if not is_integer(self.width) or not 1 <= self.width <= MAX_EDT:
            raise ValueError(f"state size must be 1..{MAX_EDT}, got {self.width!r}")
        check_states(self.values, (1 << (8 * self.width)) - 1, "state")

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
        data = as_bytes(edt)
        expect_length(data, self.width)
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
            if not is_integer(number):
                raise ValueError(f"level {label} must be an int, got {number!r}")
        if not is_integer(self.minimum) or self.minimum > self.maximum:
            raise ValueError(f"level minimum {self.minimum!r} > maximum {self.maximum}")
        if not 0 <= self.base <= 0xFF or self.base + self.maximum - self.minimum > 0xFF:
            raise ValueError("level codes do not fit one byte")

    @property
    def size(self) -> int:
        return 1

    def decode(self, edt: Buffer) -> int:
        data = as_bytes(edt)
        expect_length(data, 1)
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
        return unique([self.minimum, self.maximum])


@dataclass(frozen=True)
class RawType(DataType):
    """MRA ``raw``: opaque bytes of ``min_size..max_size`` length."""

    kind: ClassVar[str] = "raw"

    min_size: int
    max_size: int

    def __post_init__(self) -> None:
        if not (is_integer(self.min_size) and is_integer(self.max_size)):
            raise ValueError("raw sizes must be ints")
        if not 0 <= self.min_size <= self.max_size <= MAX_EDT:
            raise ValueError(f"raw size range {self.min_size}..{self.max_size} is not valid")

    @property
    def size(self) -> int | None:
        return self.min_size if self.min_size == self.max_size else None

    def _check(self, length: int) -> str | None:
        if self.min_size <= length <= self.max_size:
            return None
        if self.min_size == self.max_size:
            return f"expected {plural(self.min_size)}, got {length}"
        return f"expected {self.min_size}..{self.max_size} bytes, got {length}"

    def decode(self, edt: Buffer) -> bytes:
        data = as_bytes(edt)
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
        return unique([bytes(range(1, n + 1)) for n in (self.min_size, self.max_size)])
