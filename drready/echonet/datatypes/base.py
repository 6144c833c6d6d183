"""What every MRA data type shares: the :class:`DataType` interface and the EDT helpers."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from drready.echonet.errors import DecodeError

#: What ``decode`` accepts: any bytes-like EDT (it is copied to ``bytes`` first).
Buffer = bytes | bytearray | memoryview


# Largest EDT a property can carry: PDC is a single byte (ECHONET Lite Spec. Part 2 §3.2.5).
MAX_EDT: Final = 255


def as_bytes(edt: object) -> bytes:
    if isinstance(edt, bytes | bytearray | memoryview):
        return bytes(edt)
    raise DecodeError(f"EDT must be bytes, not {type(edt).__name__}")


def plural(n: int) -> str:
    return f"{n} byte" if n == 1 else f"{n} bytes"


def expect_length(edt: bytes, size: int) -> None:
    if len(edt) != size:
        raise DecodeError(f"expected {plural(size)}, got {len(edt)}")


def is_integer(value: object) -> bool:
    # bool is an int subclass but True is never a meaningful EDT number.
    return isinstance(value, int) and not isinstance(value, bool)


def unique(values: Sequence[object]) -> tuple[object, ...]:
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
