"""SunSpec definitions and the sans-I/O register codec."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drready.modbus.errors import SunSpecDecodeError, SunSpecEncodeError
from drready.modbus.registers import (
    BlockTemplate,
    ModelBlock,
    build_block,
    decode_raw,
    encode_point,
    encode_raw,
    scale,
    unscale,
)
from drready.modbus.sunspec import (
    BASE_ADDRESSES,
    END_MODEL_ID,
    MODELS,
    SUNS_MARKER,
    SUNS_REGISTERS,
    TYPE_SIZES,
    Model,
    Point,
    PointType,
    model,
)

# L of each model as the SunSpec models repository gives it (json/model_<id>.json, commit
# 7abdf8982d5364f8ae916deee18aac86c11be36d): the sum of the point sizes after ID and L.
SPEC_LENGTHS = {1: 66, 802: 62, 124: 24, 101: 50, 704: 65, 203: 105}

# Offsets (from the ID register) and types of the points the harness relies on, as read from the
# same files.
SPEC_POINTS = {
    1: {"Mn": (2, 16, "string"), "Md": (18, 16, "string"), "Opt": (34, 8, "string"),
        "Vr": (42, 8, "string"), "SN": (50, 16, "string"), "DA": (66, 1, "uint16")},
    802: {"AHRtg": (2, 1, "uint16"), "WHRtg": (3, 1, "uint16"), "WChaRteMax": (4, 1, "uint16"),
          "WDisChaRteMax": (5, 1, "uint16"), "SocRsvMax": (9, 1, "uint16"),
          "SoCRsvMin": (10, 1, "uint16"), "SoC": (11, 1, "uint16"), "ChaSt": (16, 1, "enum16"),
          "LocRemCtl": (17, 1, "enum16"), "Hb": (18, 1, "uint16"), "CtrlHb": (19, 1, "uint16"),
          "State": (22, 1, "enum16"), "V": (34, 1, "uint16"), "A": (44, 1, "int16"),
          "W": (47, 1, "int16"), "AHRtg_SF": (52, 1, "sunssf"), "WHRtg_SF": (53, 1, "sunssf"),
          "WChaDisChaMax_SF": (54, 1, "sunssf"), "SoC_SF": (56, 1, "sunssf"),
          "V_SF": (59, 1, "sunssf"), "A_SF": (61, 1, "sunssf"), "W_SF": (63, 1, "sunssf")},
    124: {"WChaMax": (2, 1, "uint16"), "WChaGra": (3, 1, "uint16"),
          "WDisChaGra": (4, 1, "uint16"), "StorCtl_Mod": (5, 1, "bitfield16"),
          "VAChaMax": (6, 1, "uint16"), "MinRsvPct": (7, 1, "uint16"),
          "ChaState": (8, 1, "uint16"), "StorAval": (9, 1, "uint16"),
          "InBatV": (10, 1, "uint16"), "ChaSt": (11, 1, "enum16"), "OutWRte": (12, 1, "int16"),
          "InWRte": (13, 1, "int16"), "InOutWRte_WinTms": (14, 1, "uint16"),
          "InOutWRte_RvrtTms": (15, 1, "uint16"), "InOutWRte_RmpTms": (16, 1, "uint16"),
          "ChaGriSet": (17, 1, "enum16"), "WChaMax_SF": (18, 1, "sunssf"),
          "InOutWRte_SF": (25, 1, "sunssf")},
    101: {"W": (14, 1, "int16"), "W_SF": (15, 1, "sunssf"), "WH": (24, 2, "acc32"),
          "WH_SF": (26, 1, "sunssf"), "St": (38, 1, "enum16"), "Evt1": (40, 2, "bitfield32")},
    704: {"WSetEna": (22, 1, "enum16"), "WSetMod": (23, 1, "enum16"), "WSet": (24, 2, "int32"),
          "WSetRvrt": (26, 2, "int32"), "WSetPct": (28, 1, "int16"),
          "WSetPctRvrt": (29, 1, "int16"), "WSetEnaRvrt": (30, 1, "enum16"),
          "WSetRvrtTms": (31, 2, "uint32"), "WSetRvrtRem": (33, 2, "uint32"),
          "WSet_SF": (55, 1, "sunssf"), "WSetPct_SF": (56, 1, "sunssf")},
    203: {"A": (2, 1, "int16"), "A_SF": (6, 1, "sunssf"), "PhV": (7, 1, "int16"),
          "V_SF": (15, 1, "sunssf"), "Hz": (16, 1, "int16"), "Hz_SF": (17, 1, "sunssf"),
          "W": (18, 1, "int16"), "WphA": (19, 1, "int16"), "WphB": (20, 1, "int16"),
          "WphC": (21, 1, "int16"), "W_SF": (22, 1, "sunssf"), "TotWhExp": (38, 2, "acc32"),
          "TotWhImp": (46, 2, "acc32"), "TotWh_SF": (54, 1, "sunssf")},
}  # fmt: skip


# --------------------------------------------------------------------------- definitions


def test_markers_and_bases() -> None:
    assert SUNS_MARKER == 0x53756E53
    assert SUNS_REGISTERS == (SUNS_MARKER >> 16, SUNS_MARKER & 0xFFFF)
    assert bytes.fromhex("".join(f"{r:04x}" for r in SUNS_REGISTERS)) == b"SunS"
    assert END_MODEL_ID == 0xFFFF
    assert BASE_ADDRESSES == (40000, 0, 50000)


@pytest.mark.parametrize("model_id", sorted(SPEC_LENGTHS))
def test_definitions_are_self_consistent(model_id: int) -> None:
    m = MODELS[model_id]
    assert m.id == model_id
    assert m.length == SPEC_LENGTHS[model_id]
    assert m.points[0].name == "ID" and m.points[0].offset == 0
    assert m.points[1].name == "L" and m.points[1].offset == 1
    offset = 0
    for point in m.points:
        assert point.offset == offset, point.name  # contiguous, in order, no gaps
        if point.type is PointType.STRING:
            assert point.size >= 1
        else:
            assert point.size == TYPE_SIZES[point.type], point.name
        if point.sf:
            assert m.point(point.sf).type is PointType.SUNSSF, point.name
        if point.type is PointType.SUNSSF:
            assert not point.sf and not point.writable
        offset += point.size
    assert offset == m.length + 2 == m.block_size
    assert len({p.name for p in m.points}) == len(m.points)
    for name in m.symbols:
        assert m.point(name).type in (PointType.ENUM16, PointType.BITFIELD16)


@pytest.mark.parametrize("model_id", sorted(SPEC_POINTS))
def test_points_the_harness_uses(model_id: int) -> None:
    m = MODELS[model_id]
    for name, (offset, size, kind) in SPEC_POINTS[model_id].items():
        point = m.point(name)
        assert (point.offset, point.size, point.type.value) == (offset, size, kind), name


def test_point_details() -> None:
    assert model(802).point("SoC").sf == "SoC_SF"
    assert model(802).point("SocRsvMax").writable  # the model's own spelling
    assert model(802).point("CtrlHb").writable and not model(802).point("Hb").writable
    assert model(704).point("WSet").units == "W" and model(704).point("WSet").sf == "WSet_SF"
    assert not model(704).point("WSetRvrtRem").writable
    assert model(124).point("WChaMax").mandatory
    assert model(203).point("TotWhImp").sf == "TotWh_SF"
    assert model(802).symbols["ChaSt"]["CHARGING"] == 4
    assert model(704).symbols["WSetMod"]["WATTS"] == 1
    assert "SoC" in model(802) and "SOC" not in model(802)
    with pytest.raises(KeyError, match=r"model 802 .* no point 'SocRsv'"):
        model(802).point("SocRsv")
    with pytest.raises(KeyError, match="SunSpec model 999 is not defined"):
        model(999)


# --------------------------------------------------------------------------- points

_M = Model(
    64999,
    "test",
    "every type",
    0,
    tuple(Point(kind.value, 0, TYPE_SIZES.get(kind, 4), kind) for kind in PointType),
)


def _point(kind: PointType) -> Point:
    return _M.point(kind.value)


@pytest.mark.parametrize(
    ("kind", "registers"),
    [
        (PointType.INT16, [0x8000]),
        (PointType.UINT16, [0xFFFF]),
        (PointType.ENUM16, [0xFFFF]),
        (PointType.BITFIELD16, [0xFFFF]),
        (PointType.SUNSSF, [0x8000]),
        (PointType.PAD, [0x8000]),
        (PointType.PAD, [0]),
        (PointType.ACC16, [0]),
        (PointType.INT32, [0x8000, 0]),
        (PointType.UINT32, [0xFFFF, 0xFFFF]),
        (PointType.ENUM32, [0xFFFF, 0xFFFF]),
        (PointType.BITFIELD32, [0xFFFF, 0xFFFF]),
        (PointType.ACC32, [0, 0]),
        (PointType.FLOAT32, [0x7FC0, 0]),
        (PointType.INT64, [0x8000, 0, 0, 0]),
        (PointType.UINT64, [0xFFFF] * 4),
        (PointType.ACC64, [0] * 4),
        (PointType.STRING, [0] * 4),
    ],
)
def test_not_implemented_decodes_to_none(kind: PointType, registers: list[int]) -> None:
    point = _point(kind)
    assert decode_raw(_M, point, registers) is None
    if kind is not PointType.PAD or registers == [0x8000]:
        assert encode_raw(_M, point, None) == registers


def test_decoding_examples() -> None:
    assert decode_raw(_M, _point(PointType.INT16), [0xFFFE]) == -2
    assert decode_raw(_M, _point(PointType.INT32), [0xFFFF, 0xFFFE]) == -2
    assert decode_raw(_M, _point(PointType.UINT32), [0x0001, 0x0002]) == 0x10002
    assert decode_raw(_M, _point(PointType.SUNSSF), [0xFFFE]) == -2
    assert decode_raw(_M, _point(PointType.STRING), [0x4142, 0x4300, 0, 0]) == "ABC"
    assert decode_raw(_M, _point(PointType.FLOAT32), [0x3FC0, 0]) == 1.5
    assert scale(1234, -1) == 123.4 and scale(12, 2) == 1200 and scale(5, 0) == 5


@pytest.mark.parametrize("raw", [11, -11, 0x7FFF])
def test_scale_factor_outside_range_is_refused(raw: int) -> None:
    register = raw & 0xFFFF
    with pytest.raises(
        SunSpecDecodeError, match=r"model 64999 point sunssf: scale factor .* -10\.\.10"
    ):
        decode_raw(_M, _point(PointType.SUNSSF), [register])
    with pytest.raises(SunSpecEncodeError, match="model 64999 point sunssf"):
        encode_raw(_M, _point(PointType.SUNSSF), raw)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (PointType.INT16, -32768),
        (PointType.INT16, 32768),
        (PointType.UINT16, 0xFFFF),
        (PointType.UINT16, -1),
        (PointType.ENUM16, 0xFFFF),
        (PointType.ACC32, 0),
        (PointType.INT32, -(2**31)),
        (PointType.UINT32, 2**32 - 1),
        (PointType.UINT32, 2**32),
        (PointType.INT64, 2**63),
    ],
)
def test_out_of_range_is_refused_in_one_line(kind: PointType, value: int) -> None:
    with pytest.raises(SunSpecEncodeError) as info:
        encode_raw(_M, _point(kind), value)
    message = str(info.value)
    assert "\n" not in message
    assert f"model 64999 point {kind.value}: {value} out of range" in message


def test_other_refusals() -> None:
    with pytest.raises(SunSpecEncodeError, match=r"string 'x{9}' must be 1\.\.8 bytes"):
        encode_raw(_M, _point(PointType.STRING), "x" * 9)
    with pytest.raises(SunSpecEncodeError, match="without NUL"):
        encode_raw(_M, _point(PointType.STRING), "a\0b")
    with pytest.raises(SunSpecEncodeError, match="is not an integer"):
        encode_raw(_M, _point(PointType.INT16), 1.5)
    with pytest.raises(SunSpecEncodeError, match="is not an integer"):
        encode_raw(_M, _point(PointType.INT16), True)
    with pytest.raises(SunSpecEncodeError, match="not exactly representable"):
        encode_raw(_M, _point(PointType.FLOAT32), 0.1)
    with pytest.raises(SunSpecDecodeError, match=r"1 register\(s\) given, 2 expected"):
        decode_raw(_M, _point(PointType.INT32), [0])
    w = model(704).point("WSet")
    with pytest.raises(SunSpecEncodeError, match=r"model 704 point WSet: 12\.34 is not a multiple"):
        encode_point(model(704), w, 12.34, -1)
    with pytest.raises(
        SunSpecEncodeError, match="model 704 point WSet: 15 is not a multiple of 10"
    ):
        encode_point(model(704), w, 15, 1)
    with pytest.raises(SunSpecEncodeError, match="scale factor WSet_SF is not implemented"):
        encode_point(model(704), w, 15, None)


_INT_KINDS = [k for k in PointType if k not in (PointType.STRING, PointType.FLOAT32, PointType.PAD)]


@settings(max_examples=400)
@given(st.sampled_from(_INT_KINDS), st.data())
def test_integer_round_trip(kind: PointType, data: st.DataObject) -> None:
    point = _point(kind)
    bits = 16 * point.size
    registers = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=point.size,
                                   max_size=point.size))  # fmt: skip
    try:
        raw = decode_raw(_M, point, registers)
    except SunSpecDecodeError:
        assert kind is PointType.SUNSSF
        return
    assert encode_raw(_M, point, raw) == registers
    if raw is not None:
        assert isinstance(raw, int)
        assert -(1 << bits) < raw < (1 << bits)


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=8).filter(lambda s: "\0" not in s))
def test_string_round_trip(text: str) -> None:
    point = _point(PointType.STRING)
    if len(text.encode()) > 8:
        with pytest.raises(SunSpecEncodeError):
            encode_raw(_M, point, text)
        return
    registers = encode_raw(_M, point, text)
    assert len(registers) == 4
    assert decode_raw(_M, point, registers) == text


@settings(max_examples=200)
@given(st.floats(width=32, allow_nan=False, allow_infinity=True))
def test_float32_round_trip(number: float) -> None:
    point = _point(PointType.FLOAT32)
    registers = encode_raw(_M, point, number)
    assert decode_raw(_M, point, registers) == number
    word = struct.pack(">f", number)
    assert registers == [int.from_bytes(word[:2], "big"), int.from_bytes(word[2:], "big")]


@settings(max_examples=400)
@given(st.integers(-(2**31) + 1, 2**31 - 1), st.integers(-10, 10))
def test_scaled_round_trip(raw: int, sf: int) -> None:
    m, point = model(704), model(704).point("WSet")
    value = scale(raw, sf)
    assert unscale(m, point, value, sf) == raw
    registers = encode_point(m, point, value, sf)
    assert decode_raw(m, point, registers) == raw
    if sf < 0:
        assert math.isclose(value, raw / 10**-sf)


# --------------------------------------------------------------------------- blocks


def _battery_values() -> dict[str, int | float | str | None]:
    return {
        "AHRtg": 100, "WHRtg": 9800, "WChaRteMax": 3000, "WDisChaRteMax": 3000,
        "SocRsvMax": 95.0, "SoCRsvMin": 10.0, "SoC": 55.5, "ChaSt": 4, "LocRemCtl": 0,
        "Hb": 7, "CtrlHb": 0, "AlmRst": 0, "Typ": 4, "State": 3, "Evt1": 0, "Evt2": 0,
        "EvtVnd1": 0, "EvtVnd2": 0, "V": 52.1, "CellV_SF": -3, "A": -12.5, "W": -650,
        "SetOp": 1, "SetInvState": 3, "AHRtg_SF": 0, "WHRtg_SF": 0, "WChaDisChaMax_SF": 0,
        "SoC_SF": -1, "V_SF": -1, "A_SF": -1, "AMax_SF": 0, "W_SF": 0,
    }  # fmt: skip


def test_build_block_and_read_it_back() -> None:
    m = model(802)
    values = _battery_values()
    registers = build_block(m, values)
    assert len(registers) == 64 and registers[:2] == [802, 62]
    block = ModelBlock(m, registers)
    assert block.get("SoC") == 55.5 and block.raw("SoC") == 555
    assert block.get("A") == -12.5 and block.get("W") == -650
    assert block.get("DisChaRte") is None  # not given: not implemented
    assert block.scale_factor("SoC") == -1 and block.scale_factor("ChaSt") == 0
    read = block.values()
    assert "ID" not in read and "L" not in read
    for name, value in values.items():
        assert read[name] == value, name


def test_block_updates() -> None:
    m = model(704)
    block = ModelBlock(m, build_block(m, {"WSet_SF": 1, "WSetPct_SF": -2, "WSetEna": 0}))
    updated = block.updated({"WSetEna": 1, "WSetMod": 1, "WSet": -1500, "WSetPct": 12.34})
    assert updated.values(["WSetEna", "WSetMod", "WSet", "WSetPct"]) == {
        "WSetEna": 1, "WSetMod": 1, "WSet": -1500, "WSetPct": 12.34,
    }  # fmt: skip
    assert updated.raw("WSet") == -150
    with pytest.raises(SunSpecEncodeError, match="model 704 point WSetRvrtRem is read-only"):
        block.encode_updates({"WSetRvrtRem": 5})
    with pytest.raises(SunSpecEncodeError, match="scale factor VarSet_SF is not implemented"):
        block.encode_updates({"VarSet": 100})


def test_block_refusals() -> None:
    m = model(802)
    registers = build_block(m, _battery_values())
    with pytest.raises(SunSpecDecodeError, match="model 802: block starts with model ID 803"):
        ModelBlock(m, [803, *registers[1:]])
    with pytest.raises(SunSpecDecodeError, match="model 802: L is 61 but the block has 62"):
        ModelBlock(m, [802, 61, *registers[2:]])
    bad_sf = list(registers)
    bad_sf[m.point("SoC_SF").offset] = 11
    with pytest.raises(SunSpecDecodeError, match="model 802 point SoC_SF: scale factor 11"):
        ModelBlock(m, bad_sf).get("SoC")
    no_sf = list(registers)
    no_sf[m.point("SoC_SF").offset] = 0x8000
    with pytest.raises(SunSpecDecodeError, match="SoC: value 555 but its scale factor SoC_SF"):
        ModelBlock(m, no_sf).get("SoC")
    with pytest.raises(SunSpecEncodeError, match="model 802 has no point 'Bogus'"):
        build_block(m, {"Bogus": 1})


def test_shorter_common_model() -> None:
    common = model(1)
    registers = build_block(common, {"Mn": "Maker", "Md": "Model", "SN": "42"}, length=65)
    block = ModelBlock(common, registers)
    assert block.length == 65 and block.get("DA") is None and block.get("Mn") == "Maker"
    with pytest.raises(SunSpecDecodeError, match="model 1: L 50 ends inside point SN"):
        ModelBlock(common, [1, 50, *registers[2:52]])


def _reference_block(m: Model, values: dict[str, int | float | str | None]) -> list[int]:
    """A block built point by point in the model's order: what build_block's quick path (a
    template and only the given points encoded) must give, error for error."""
    for point in m.points:
        if point.name in values and point.offset + point.size > m.length + 2:
            raise SunSpecEncodeError(f"model {m.id} point {point.name} lies beyond L {m.length}")
    registers: list[int] = []
    for point in m.points:
        if point.name in ("ID", "L"):
            registers.append(m.id if point.name == "ID" else m.length)
        elif not point.sf or point.type in (PointType.STRING, PointType.FLOAT32):
            registers.extend(encode_raw(m, point, values.get(point.name)))
        else:
            sf = values.get(point.sf)
            if sf is not None and (isinstance(sf, bool) or not isinstance(sf, int)):
                raise SunSpecEncodeError(
                    f"model {m.id} point {point.sf}: scale factor {sf!r} is not an integer"
                )
            registers.extend(encode_point(m, point, values.get(point.name), sf))
    unknown = sorted(set(values) - {p.name for p in m.points})
    if unknown:
        raise SunSpecEncodeError(f"model {m.id} has no point {unknown[0]!r}")
    return registers


def _outcome(
    build: Callable[[Model, dict[str, int | float | str | None]], list[int]],
    m: Model,
    values: dict[str, int | float | str | None],
) -> tuple[str, ...] | list[int]:
    try:
        return build(m, values)
    except (SunSpecEncodeError, SunSpecDecodeError) as exc:
        return (type(exc).__name__, str(exc))


def test_build_block_and_templates_match_a_point_by_point_build() -> None:
    rng = random.Random(13)
    good: dict[PointType, list[int | float | str | None]] = {
        PointType.STRING: ["drready", "x" * 32, None],
        PointType.FLOAT32: [1.5, 0.0, -2.25, None],
        PointType.SUNSSF: [-2, -1, 0, 1, None],
    }
    bad: list[int | float | str | None] = ["x", 1.5, True, 11, 12.3, -5, 70000, 0x8000, "", 1e-12]
    scaled: list[int | float | str | None] = [0, 1, 20, 100, 0.5, 1.25, 0.1, 40000.0, None]
    errors = templates = 0
    for _ in range(3000):
        m = rng.choice(list(MODELS.values()))
        values: dict[str, int | float | str | None] = {}
        for point in rng.sample(m.points, rng.randint(0, len(m.points))):
            if rng.random() < 0.03:
                values[point.name] = rng.choice(bad)
            elif point.type in good:
                values[point.name] = rng.choice(good[point.type])
            elif point.sf:
                values[point.name] = rng.choice(scaled)
                values.setdefault(point.sf, rng.choice([-1, 0, 0, 1]))
            else:
                values[point.name] = rng.choice([1, 5, 100, None])
        if rng.random() < 0.02:
            values["Bogus"] = 1
        expected = _outcome(_reference_block, m, values)
        assert _outcome(build_block, m, values) == expected, (m.id, values)
        errors += isinstance(expected, tuple)
        # The same block from a template: some points fixed (a valid set), the rest given.
        fixed = {k: v for k, v in values.items() if rng.random() < 0.5}
        if isinstance(_outcome(_reference_block, m, fixed), list):
            given = {k: v for k, v in values.items() if k not in fixed or rng.random() < 0.02}
            assert _outcome(
                lambda _m, v, f=fixed: BlockTemplate(_m, f).build(v), m, given
            ) == _outcome(_reference_block, m, {**fixed, **given}), (m.id, fixed, given)
            templates += 1
    assert 300 < errors < 2700  # both the quick path and the refusals were exercised
    assert templates > 300
