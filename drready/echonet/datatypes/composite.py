"""MRA types built of others: ``object`` (elements), ``array``, ``bitmap`` and ``oneOf``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from drready.echonet.datatypes.coded import StateValue, check_states
from drready.echonet.errors import DecodeError, EncodeError


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
        data = as_bytes(edt)
        fixed = sum(e.data.size or 0 for e in self.elements[:-1])
        if len(data) < fixed or (self.size is not None and len(data) != self.size):
            expected = plural(self.size) if self.size is not None else f"at least {fixed} bytes"
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
        if not is_integer(self.item_size) or self.item_size < 1:
            raise ValueError(f"itemSize must be a positive int, got {self.item_size!r}")
        if not isinstance(self.items, DataType):
            raise ValueError("array items is not a DataType")
        if self.items.size is not None and self.items.size != self.item_size:
            raise ValueError(f"itemSize {self.item_size} != item type size {self.items.size}")
        if not (is_integer(self.min_items) and is_integer(self.max_items)):
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
        data = as_bytes(edt)
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
        if not is_integer(self.index) or self.index < 0:
            raise ValueError(f"bit field {self.name!r}: index must be >= 0")
        if not is_integer(self.bit_mask) or not 0 < self.bit_mask <= 0xFF:
            raise ValueError(f"bit field {self.name!r}: bitMask must be 1..0xFF")
        check_states(self.values, self.bit_mask >> self.shift, f"bit field {self.name!r}")
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
        if not is_integer(self.width) or not 1 <= self.width <= MAX_EDT:
            raise ValueError(f"bitmap size must be 1..{MAX_EDT}, got {self.width!r}")
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
        data = as_bytes(edt)
        expect_length(data, self.width)
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
        return unique([s for a in self.alternatives for s in a.samples()])
