"""The MRA ``number`` type: integers of 1 to 4 bytes, scaled, with overflow/underflow codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar, Final

from drready.echonet.datatypes.base import (
    Buffer,
    DataType,
    as_bytes,
    expect_length,
    is_integer,
    unique,
)
from drready.echonet.errors import DecodeError, EncodeError

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
            if bound is not None and (not is_integer(bound) or not lo <= bound <= hi):
                raise ValueError(f"{label} {bound!r} does not fit {self.format}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} > maximum {self.maximum}")
        for item in self.enum:
            if not is_integer(item) or not lo <= item <= hi:
                raise ValueError(f"enum value {item!r} does not fit {self.format}")
        if self.multiple is not None and (
            isinstance(self.multiple, bool)
            or not isinstance(self.multiple, int | float)
            or not self.multiple > 0
        ):
            raise ValueError(f"multiple must be a positive number, got {self.multiple!r}")
        if self.multiple_of is not None and (
            not is_integer(self.multiple_of) or self.multiple_of <= 0
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
        data = as_bytes(edt)
        expect_length(data, self.size)
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
        return unique([*scaled, *self._special_codes()])
