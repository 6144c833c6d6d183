"""Sans-I/O encoding and decoding of SunSpec points and whole model blocks.

A *raw* value is what the registers hold (an integer, a float for ``float32``, text for
``string``); a *value* is the raw value with the point's scale factor applied
(``raw × 10**sf``). SunSpec's "not implemented" values decode to ``None`` and ``None`` encodes to
them: 0x8000 (int16, sunssf, pad), 0xFFFF (uint16, enum16, bitfield16), 0x80000000 (int32),
0xFFFFFFFF (uint32, enum32, bitfield32), the 64-bit equivalents, 0 (acc16/32/64), NaN (float32)
and an all-NUL string. A value that would encode to one of those is refused, so decoding what was
encoded always gives the value back. Scale factors must be in −10..10.

Scaled values are ``int`` when the scale factor is zero or positive and ``float`` when negative;
encoding refuses a value that is not a whole number of the point's step (no silent rounding).
Every error is one line naming the model, the point and the value.

One idea past ~500 lines: the one codec, whose quick paths for the simulators (a per-model plan
in :func:`build_block`, :class:`BlockTemplate`) must give exactly what the plain encoders give,
so they sit next to them.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence

from drready.modbus.errors import SunSpecDecodeError, SunSpecEncodeError
from drready.modbus.sunspec import Model, Point, PointType

__all__ = [
    "SF_MAX",
    "SF_MIN",
    "BlockTemplate",
    "ModelBlock",
    "Raw",
    "Value",
    "build_block",
    "decode_raw",
    "encode_point",
    "encode_raw",
    "encode_updates",
    "needs_scale_factor",
    "points_end",
    "scale",
    "unscale",
]

Raw = int | float | str
Value = int | float | str

SF_MIN, SF_MAX = -10, 10

# (signed, bits, not-implemented raw register value) of each integer type.
_INTEGER: dict[PointType, tuple[bool, int, int]] = {
    PointType.UINT16: (False, 16, 0xFFFF),
    PointType.ENUM16: (False, 16, 0xFFFF),
    PointType.BITFIELD16: (False, 16, 0xFFFF),
    PointType.INT16: (True, 16, 0x8000),
    PointType.SUNSSF: (True, 16, 0x8000),
    PointType.PAD: (True, 16, 0x8000),
    PointType.ACC16: (False, 16, 0),
    PointType.UINT32: (False, 32, 0xFFFFFFFF),
    PointType.ENUM32: (False, 32, 0xFFFFFFFF),
    PointType.BITFIELD32: (False, 32, 0xFFFFFFFF),
    PointType.INT32: (True, 32, 0x80000000),
    PointType.ACC32: (False, 32, 0),
    PointType.UINT64: (False, 64, 0xFFFFFFFFFFFFFFFF),
    PointType.INT64: (True, 64, 0x8000000000000000),
    PointType.ACC64: (False, 64, 0),
}
_FLOAT_NI = 0x7FC00000  # the quiet NaN SunSpec writes for an unimplemented float32


def _where(model: Model, point: Point) -> str:
    return f"model {model.id} point {point.name}"


def _check_registers(model: Model, point: Point, registers: Sequence[int]) -> None:
    if len(registers) != point.size:
        raise SunSpecDecodeError(
            f"{_where(model, point)}: {len(registers)} register(s) given, {point.size} expected"
        )
    for register in registers:
        if not 0 <= register <= 0xFFFF:
            raise SunSpecDecodeError(f"{_where(model, point)}: register value {register!r}")


def _join(registers: Sequence[int]) -> int:
    word = 0
    for register in registers:
        word = (word << 16) | register
    return word


def _split(word: int, size: int) -> list[int]:
    return [(word >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]


def decode_raw(model: Model, point: Point, registers: Sequence[int]) -> Raw | None:
    """The raw value of ``point`` in ``registers`` (exactly its size), None if unimplemented."""
    _check_registers(model, point, registers)
    kind = point.type
    if kind is PointType.STRING:
        data = b"".join(r.to_bytes(2, "big") for r in registers)
        text = data.split(b"\0", 1)[0]
        if not text:
            return None
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError:
            raise SunSpecDecodeError(
                f"{_where(model, point)}: string {data.hex()} is not UTF-8"
            ) from None
    if kind is PointType.FLOAT32:
        word = _join(registers)
        number: float = struct.unpack(">f", word.to_bytes(4, "big"))[0]
        return None if math.isnan(number) else number
    signed, bits, not_implemented = _INTEGER[kind]
    word = _join(registers)
    if kind is PointType.PAD or word == not_implemented:
        return None
    if signed and word >= 1 << (bits - 1):
        word -= 1 << bits
    if kind is PointType.SUNSSF and not SF_MIN <= word <= SF_MAX:
        raise SunSpecDecodeError(
            f"{_where(model, point)}: scale factor {word} outside {SF_MIN}..{SF_MAX}"
        )
    return word


def encode_raw(model: Model, point: Point, raw: Raw | None) -> list[int]:
    """The registers holding raw value ``raw`` of ``point``; None gives "not implemented"."""
    kind = point.type
    if kind is PointType.STRING:
        if raw is None:
            return [0] * point.size
        if not isinstance(raw, str):
            raise SunSpecEncodeError(f"{_where(model, point)}: {raw!r} is not a string")
        data = raw.encode("utf-8")
        if b"\0" in data or not data or len(data) > 2 * point.size:
            raise SunSpecEncodeError(
                f"{_where(model, point)}: string {raw!r} must be 1..{2 * point.size} bytes "
                "of UTF-8 without NUL"
            )
        data = data.ljust(2 * point.size, b"\0")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if kind is PointType.FLOAT32:
        if raw is None:
            return _split(_FLOAT_NI, 2)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or math.isnan(raw):
            raise SunSpecEncodeError(f"{_where(model, point)}: {raw!r} is not a number")
        try:
            data = struct.pack(">f", raw)
        except OverflowError:
            raise SunSpecEncodeError(
                f"{_where(model, point)}: {raw!r} does not fit a float32"
            ) from None
        if struct.unpack(">f", data)[0] != raw:
            raise SunSpecEncodeError(
                f"{_where(model, point)}: {raw!r} is not exactly representable as float32"
            )
        return _split(int.from_bytes(data, "big"), 2)
    signed, bits, not_implemented = _INTEGER[kind]
    if raw is None or kind is PointType.PAD:
        if raw is not None:
            raise SunSpecEncodeError(f"{_where(model, point)}: a pad holds no value")
        return _split(not_implemented, point.size)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SunSpecEncodeError(f"{_where(model, point)}: {raw!r} is not an integer")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if kind is PointType.SUNSSF:
        low, high = SF_MIN, SF_MAX
    word = raw & ((1 << bits) - 1)
    if not low <= raw <= high or word == not_implemented:
        raise SunSpecEncodeError(
            f"{_where(model, point)}: {raw} out of range for {kind.value} "
            f"({low}..{high}, 0x{not_implemented:X} meaning not implemented)"
        )
    return _split(word, point.size)


_POW10: tuple[int, ...] = tuple(10**i for i in range(SF_MAX + 1))


def _check_sf(sf: int) -> None:
    if not SF_MIN <= sf <= SF_MAX:
        raise SunSpecDecodeError(f"scale factor {sf} outside {SF_MIN}..{SF_MAX}")


def scale(raw: int, sf: int) -> int | float:
    """``raw × 10**sf``: an int for sf ≥ 0, else the float nearest the exact quotient."""
    _check_sf(sf)
    if sf >= 0:
        return raw * _POW10[sf]
    return raw / _POW10[-sf]


def unscale(model: Model, point: Point, value: float, sf: int) -> int:
    """The raw integer that scales to ``value``; refuses values off the 10**sf grid."""
    _check_sf(sf)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SunSpecEncodeError(f"{_where(model, point)}: {value!r} is not a finite number")
    if sf >= 0:
        step = _POW10[sf]
        if isinstance(value, int):
            if value % step:
                raise SunSpecEncodeError(
                    f"{_where(model, point)}: {value} is not a multiple of {step} (sf {sf})"
                )
            return value // step
        exact = value / step
    else:
        exact = value * _POW10[-sf]
    raw = round(exact)
    # Within a millionth of a step (plus float rounding of large numbers) counts as on the grid.
    if abs(exact - raw) > 1e-6 + abs(exact) * 1e-12:
        raise SunSpecEncodeError(
            f"{_where(model, point)}: {value!r} is not a multiple of 10**{sf} (sf {sf})"
        )
    return raw


def _scaled_point(point: Point) -> bool:
    return bool(point.sf) and point.type not in (PointType.STRING, PointType.FLOAT32)


def encode_point(model: Model, point: Point, value: Value | None, sf: int | None) -> list[int]:
    """The registers holding ``value`` (scaled, ``sf`` applied) of ``point``."""
    if value is None or not _scaled_point(point):
        return encode_raw(model, point, value)
    if sf is None:
        raise SunSpecEncodeError(
            f"{_where(model, point)}: cannot write {value!r}: its scale factor {point.sf} "
            "is not implemented"
        )
    if isinstance(value, str):
        raise SunSpecEncodeError(f"{_where(model, point)}: {value!r} is not a number")
    return encode_raw(model, point, unscale(model, point, value, sf))


def points_end(model: Model, names: Iterable[str]) -> int:
    """How many registers of the block, from its ID, hold the named points and their scale
    factors (at least ID and L)."""
    end = 2
    for name in names:
        point = model.point(name)
        end = max(end, point.offset + point.size)
        if _scaled_point(point):
            scale_factor = model.point(point.sf)
            end = max(end, scale_factor.offset + scale_factor.size)
    return end


def needs_scale_factor(model: Model, name: str) -> bool:
    """Whether writing point ``name`` needs the scale factor the device reports."""
    return _scaled_point(model.point(name))


def encode_updates(
    model: Model,
    length: int,
    updates: Mapping[str, Value | None],
    scale_factor: Callable[[str], int | None],
) -> dict[str, list[int]]:
    """The registers of each updated point of a block of L ``length``, scaled with
    ``scale_factor(name)`` (0 for an unscaled point, None if not implemented).

    Refuses read-only points, and points beyond ``length``.
    """
    out: dict[str, list[int]] = {}
    for name, value in updates.items():
        point = model.point(name)
        if not point.writable:
            raise SunSpecEncodeError(
                f"model {model.id} point {name} is read-only; cannot write {value!r}"
            )
        if point.offset + point.size > length + 2:
            raise SunSpecEncodeError(
                f"model {model.id} point {name} is beyond the device's L {length}"
            )
        out[name] = encode_point(model, point, value, scale_factor(name))
    return out


class ModelBlock:
    """A read-only view of one model's block of registers: ID, L, then L registers.

    The block may be shorter than the definition (a device with an older, shorter revision of
    the model, such as model 1 with L 65): points wholly beyond it read as not implemented; a
    point cut in two by the end of the block is refused.
    """

    __slots__ = ("model", "registers")

    def __init__(self, model: Model, registers: Sequence[int]) -> None:
        self.model = model
        self.registers = tuple(registers)
        if len(self.registers) < 2:
            raise SunSpecDecodeError(f"model {model.id}: block of {len(self.registers)} registers")
        if min(self.registers) < 0 or max(self.registers) > 0xFFFF:
            raise SunSpecDecodeError(f"model {model.id}: a register outside 0..0xFFFF")
        model_id, length = self.registers[0], self.registers[1]
        if model_id != model.id:
            raise SunSpecDecodeError(f"model {model.id}: block starts with model ID {model_id}")
        if length != len(self.registers) - 2:
            raise SunSpecDecodeError(
                f"model {model.id}: L is {length} but the block has {len(self.registers) - 2} "
                "register(s) after ID and L"
            )
        cut = _plan(model).cut(len(self.registers))
        if cut is not None:
            raise SunSpecDecodeError(f"model {model.id}: L {length} ends inside point {cut}")

    @property
    def length(self) -> int:
        return self.registers[1]

    def point_registers(self, name: str) -> list[int] | None:
        point = self.model.point(name)
        if point.offset + point.size > len(self.registers):
            return None
        return list(self.registers[point.offset : point.offset + point.size])

    def raw(self, name: str) -> Raw | None:
        """The point's raw value (no scale factor applied), None if not implemented."""
        registers = self.point_registers(name)
        if registers is None:
            return None
        return decode_raw(self.model, self.model.point(name), registers)

    def scale_factor(self, name: str) -> int | None:
        """The scale factor that applies to point ``name``: 0 if unscaled, None if unimplemented."""
        point = self.model.point(name)
        if not _scaled_point(point):
            return 0
        sf = self.raw(point.sf)
        if sf is not None and not isinstance(sf, int):  # pragma: no cover - sunssf decodes to int
            raise SunSpecDecodeError(f"model {self.model.id}: scale factor {point.sf} is {sf!r}")
        return sf

    def get(self, name: str) -> Value | None:
        """The point's value with its scale factor applied, None if not implemented."""
        point = self.model.point(name)
        raw = self.raw(name)
        if raw is None or not _scaled_point(point):
            return raw
        sf = self.scale_factor(name)
        if sf is None:
            raise SunSpecDecodeError(
                f"model {self.model.id} point {name}: value {raw!r} but its scale factor "
                f"{point.sf} is not implemented"
            )
        assert isinstance(raw, int)
        return scale(raw, sf)

    def values(self, names: Iterable[str] | None = None) -> dict[str, Value | None]:
        """Values of the named points (default: every point but ID, L and pads)."""
        if names is None:
            names = [
                p.name for p in self.model.points if p.offset >= 2 and p.type is not PointType.PAD
            ]
        return {name: self.get(name) for name in names}

    def encode_updates(self, updates: Mapping[str, Value | None]) -> dict[str, list[int]]:
        """The registers of each updated point, scaled with this block's scale factors.

        Refuses read-only points, and points beyond this block's length.
        """
        return encode_updates(self.model, self.length, updates, self.scale_factor)

    def updated(self, updates: Mapping[str, Value | None]) -> ModelBlock:
        """A new block with the updates applied (read-only points refused as in a write)."""
        registers = list(self.registers)
        for name, regs in self.encode_updates(updates).items():
            offset = self.model.point(name).offset
            registers[offset : offset + len(regs)] = regs
        return ModelBlock(self.model, registers)


_Encoder = Callable[[Mapping[str, Value | None]], list[int]]


def _point_encoder(model: Model, point: Point) -> _Encoder:
    """The registers of ``point`` from a :func:`build_block` mapping: a quick path for a whole
    number in range (scaled or not), anything else through :func:`_encode_given`, which gives
    the same registers or the same error."""
    name = point.name
    if point.type not in _INTEGER or point.type is PointType.PAD:
        return functools.partial(_encode_given, model, point)
    signed, bits, not_implemented = _INTEGER[point.type]
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if point.type is PointType.SUNSSF:
        low, high = SF_MIN, SF_MAX
    mask = (1 << bits) - 1
    size = point.size
    sf_name = point.sf if _scaled_point(point) else ""

    def encode(values: Mapping[str, Value | None]) -> list[int]:
        raw = values.get(name)
        if sf_name and raw is not None:
            sf = values.get(sf_name)
            if type(sf) is not int or not isinstance(raw, int | float) or isinstance(raw, bool):
                return _encode_given(model, point, values)
            raw = unscale(model, point, raw, sf)
        if type(raw) is not int or not low <= raw <= high:
            return _encode_given(model, point, values)
        word = raw & mask
        if word == not_implemented:
            return _encode_given(model, point, values)
        if size == 1:
            return [word]
        if size == 2:
            return [word >> 16, word & 0xFFFF]
        return _split(word, size)

    return encode


class _BlockPlan:
    """What :func:`build_block` needs of a model, worked out once: where each point starts in
    the block (and, one past the last, where the block ends), the block with every point "not
    implemented", each point's encoder, and which points each scale factor scales. The
    simulators build blocks on every read, so this is on their hot path. And, by size, the point
    a block of that size ends inside (a client builds a block on every read)."""

    __slots__ = ("_cuts", "encoders", "index", "model", "scaled_by", "starts", "template")

    def __init__(self, model: Model) -> None:
        self.model = model
        self._cuts: dict[int, str | None] = {}
        self.index = {point.name: i for i, point in enumerate(model.points)}
        self.encoders = [_point_encoder(model, point) for point in model.points]
        self.starts: list[int] = []
        template: list[int] = []
        scaled_by: dict[str, list[int]] = {}
        for i, point in enumerate(model.points):
            self.starts.append(len(template))
            if point.name == "ID":
                template.append(model.id)
            elif point.name == "L":
                template.append(model.length)
            else:
                template.extend(encode_raw(model, point, None))
            if _scaled_point(point):
                scaled_by.setdefault(point.sf, []).append(i)
        self.starts.append(len(template))
        self.template = tuple(template)
        self.scaled_by = scaled_by

    def cut(self, size: int) -> str | None:
        """The first point a block of ``size`` registers ends inside, None if it ends between
        two."""
        if size not in self._cuts:
            points = self.model.points
            self._cuts[size] = next(
                (p.name for p in points if p.offset < size < p.offset + p.size), None
            )
        return self._cuts[size]


# Keyed by id(): Model holds a dict, so it is not hashable; the model itself is kept alongside so
# its id cannot be reused while the entry lives.
_PLANS: dict[int, _BlockPlan] = {}


def _plan(model: Model) -> _BlockPlan:
    plan = _PLANS.get(id(model))
    if plan is None or plan.model is not model:
        plan = _PLANS[id(model)] = _BlockPlan(model)
    return plan


def _encode_given(model: Model, point: Point, values: Mapping[str, Value | None]) -> list[int]:
    """The registers of one point of :func:`build_block` (its value and scale factor taken from
    ``values``)."""
    if not _scaled_point(point):
        return encode_raw(model, point, values.get(point.name))
    sf = values.get(point.sf)
    if sf is not None and (isinstance(sf, bool) or not isinstance(sf, int)):
        raise SunSpecEncodeError(
            f"model {model.id} point {point.sf}: scale factor {sf!r} is not an integer"
        )
    return encode_point(model, point, values.get(point.name), sf)


def build_block(
    model: Model, values: Mapping[str, Value | None], *, length: int | None = None
) -> list[int]:
    """A whole block of ``model`` (ID, L and every point) from point values.

    Scale-factor points are given as plain integers among ``values`` and applied to the points
    they scale; points not given are "not implemented". ``length`` (default: the model's L)
    allows a shorter block of an older revision of the model.
    """
    length = model.length if length is None else length
    plan = _plan(model)
    points = model.points
    index = plan.index
    # Only the given points differ from the "not implemented" template, and the points scaled by
    # a given scale factor that is not an integer (their check refuses it). They are encoded in
    # the model's order so the first error is the one a point-by-point build would raise.
    chosen: list[int] = []
    unknown: list[str] = []
    for name, value in values.items():
        i = index.get(name)
        if i is None:
            unknown.append(name)
            continue
        chosen.append(i)
        if value is not None and type(value) is not int:
            chosen.extend(plan.scaled_by.get(name, ()))
    chosen.sort()
    if length + 2 < len(plan.template):
        for i in chosen:
            point = points[i]
            if point.name in values and point.offset + point.size > length + 2:
                raise SunSpecEncodeError(
                    f"model {model.id} point {point.name} lies beyond L {length}"
                )
    registers = list(plan.template)
    registers[plan.starts[index["L"]]] = length
    starts = plan.starts
    encoders = plan.encoders
    for i in chosen:
        if points[i].name not in ("ID", "L"):
            registers[starts[i] : starts[i + 1]] = encoders[i](values)
    if unknown:
        raise SunSpecEncodeError(f"model {model.id} has no point {sorted(unknown)[0]!r}")
    return registers[: length + 2]


class BlockTemplate:
    """A block of ``model`` whose ``fixed`` points are encoded once: :meth:`build` encodes only
    the points it is given, and returns what ``build_block(model, {**fixed, **values})`` does
    (the same registers, the same first error). A simulator's ratings and scale factors stay
    while its measurements change on every read."""

    __slots__ = ("_block", "_fixed", "_plan", "model")

    def __init__(self, model: Model, fixed: Mapping[str, Value | None]) -> None:
        self.model = model
        self._fixed = dict(fixed)
        self._plan = _plan(model)
        self._block = tuple(build_block(model, self._fixed))

    def build(self, values: Mapping[str, Value | None]) -> list[int]:
        plan = self._plan
        merged = {**self._fixed, **values}
        # A given scale factor re-scales fixed points, a given ID or L or an unknown point is
        # build_block's to handle: the whole block, the plain way.
        if any(
            name in self._fixed
            or name in plan.scaled_by
            or name in ("ID", "L")
            or name not in plan.index
            for name in values
        ):
            return build_block(self.model, merged)
        registers = list(self._block)
        starts, encoders, index = plan.starts, plan.encoders, plan.index
        try:
            for name in values:
                i = index[name]
                registers[starts[i] : starts[i + 1]] = encoders[i](merged)
        except (SunSpecEncodeError, SunSpecDecodeError):
            return build_block(self.model, merged)  # raises the first error, in model order
        return registers
