"""Property definitions derived from the MRA (drready.echonet.properties / datatypes)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drready.echonet.datatypes import (
    ArrayType,
    BitmapType,
    CodedState,
    DataType,
    LevelType,
    NumberType,
    ObjectType,
    OneOfType,
    RawType,
    StateType,
    StateValue,
    TimeType,
)
from drready.echonet.errors import DecodeError, EchonetError, EncodeError
from drready.echonet.properties import (
    MRA_RELEASE,
    MRA_VERSION,
    RELEASES,
    Access,
    ClassDef,
    MraDataError,
    PropertyDef,
    UnknownClassError,
    available_classes,
    data_type_from_mra,
    load_class,
    property_variants,
)

STORAGE_BATTERY = 0x027D
ELECTRIC_WATER_HEATER = 0x026B
HYBRID_WATER_HEATER = 0x02A6
NODE_PROFILE = 0x0EF0
SUPERCLASS = 0x0000
FIVE_CLASSES = (
    SUPERCLASS,
    NODE_PROFILE,
    STORAGE_BATTERY,
    ELECTRIC_WATER_HEATER,
    HYBRID_WATER_HEATER,
)

ALL_VARIANTS: list[PropertyDef] = [p for c in FIVE_CLASSES for p in property_variants(c)]


def _id(prop: PropertyDef) -> str:
    return f"{prop.defined_in:04X}-{prop.epc:02X}-{prop.valid_from}{prop.valid_to}"


@pytest.fixture(scope="module")
def battery() -> ClassDef:
    return load_class(STORAGE_BATTERY, "R")


# -- package data and metadata -------------------------------------------------------------


def test_mra_metadata() -> None:
    assert MRA_VERSION == "1.3.0"
    assert MRA_RELEASE == "R"
    assert RELEASES[-1] == "R"
    assert "O" not in RELEASES


def test_mra_files_ship_with_copyright() -> None:
    folder = resources.files("drready.echonet") / "mra"
    names = {entry.name for entry in folder.iterdir()}
    assert "COPYRIGHT.txt" in names
    assert {"definitions.json", "metaData.json", "0x027D_mcrule.json"} <= names
    assert "ECHONET" in (folder / "COPYRIGHT.txt").read_text(encoding="utf-8")
    assert set(available_classes()) == set(FIVE_CLASSES)


# -- storage battery 0x027D at release R ---------------------------------------------------


def test_operation_mode_state(battery: ClassDef) -> None:
    prop = battery.properties[0xDA]
    assert prop.short_name == "operationMode"
    assert battery.by_name("operationMode") is prop
    assert isinstance(prop.data, StateType)
    assert {"charging", "discharging", "standby", "auto"} <= set(prop.data.names)
    assert prop.encode("discharging") == b"\x43"
    assert prop.decode(b"\x46") == "auto"
    assert (prop.get, prop.set, prop.inf) == (Access.REQUIRED,) * 3
    assert prop.valid_from == "H"
    assert prop.valid_to == "latest"
    assert prop.name_en == "Operation mode setting"
    assert prop.name_ja


def test_operation_mode_rejects_unknown_names_and_codes(battery: ClassDef) -> None:
    prop = battery.properties[0xDA]
    with pytest.raises(EncodeError, match="0xDA"):
        prop.encode("flying")
    with pytest.raises(EncodeError):
        prop.encode(0x43)
    with pytest.raises(DecodeError, match="not a defined state"):
        prop.decode(b"\x47")


def test_instantaneous_power_int32(battery: ClassDef) -> None:
    prop = battery.properties[0xD3]
    assert isinstance(prop.data, NumberType)
    assert prop.data.format == "int32"
    assert prop.data.unit == "W"
    assert prop.encode(-1500) == (-1500).to_bytes(4, "big", signed=True)
    assert prop.decode((-1500).to_bytes(4, "big", signed=True)) == -1500
    with pytest.raises(EncodeError):
        prop.encode(True)
    with pytest.raises(EncodeError):
        prop.encode("1500")
    with pytest.raises(EncodeError, match="multiple"):
        prop.encode(1.5)


def test_cumulative_energy_scaled_kwh(battery: ClassDef) -> None:
    prop = battery.properties[0xA8]
    assert isinstance(prop.data, NumberType)
    assert prop.data.unit == "kWh"
    assert prop.data.multiple == 0.001
    assert prop.decode(bytes.fromhex("000004D2")) == pytest.approx(1.234)
    assert prop.encode(1.234) == bytes.fromhex("000004D2")
    assert prop.data.scaled_maximum == pytest.approx(999999.999)
    with pytest.raises(EncodeError, match="multiple"):
        prop.encode(1.2345)
    with pytest.raises(DecodeError, match="out of range"):
        prop.decode((1_000_000_000).to_bytes(4, "big"))


def test_min_max_charging_power_object(battery: ClassDef) -> None:
    prop = battery.properties[0xC8]
    assert isinstance(prop.data, ObjectType)
    assert prop.data.names == ("minValue", "maxValue")
    assert prop.data.size == 8
    edt = (100).to_bytes(4, "big") + (3000).to_bytes(4, "big")
    assert prop.decode(edt) == {"minValue": 100, "maxValue": 3000}
    assert prop.encode({"minValue": 100, "maxValue": 3000}) == edt
    with pytest.raises(DecodeError, match="expected 8 bytes"):
        prop.decode(edt[:-1])
    with pytest.raises(EncodeError, match="missing"):
        prop.encode({"minValue": 100})
    with pytest.raises(DecodeError, match="maxValue"):
        prop.decode(edt[:4] + (1_000_000_000).to_bytes(4, "big"))


def test_percent_range(battery: ClassDef) -> None:
    prop = battery.properties[0xA7]
    assert isinstance(prop.data, NumberType)
    assert prop.data.unit == "%"
    assert prop.decode(b"\x64") == 100
    assert prop.decode(b"\x00") == 0
    with pytest.raises(DecodeError, match=r"101 out of range \[0, 100\]"):
        prop.decode(b"\x65")
    with pytest.raises(EncodeError):
        prop.encode(101)


def test_target_energy_one_of_number_or_no_setting(battery: ClassDef) -> None:
    prop = battery.properties[0xAA]
    assert isinstance(prop.data, OneOfType)
    assert prop.data.size == 4
    assert prop.decode(b"\x00\x00\x00\x00") == "noSetting"
    assert prop.encode("noSetting") == b"\x00\x00\x00\x00"
    assert prop.decode((5000).to_bytes(4, "big")) == 5000
    assert prop.encode(5000) == (5000).to_bytes(4, "big")
    with pytest.raises(DecodeError, match="no alternative"):
        prop.decode((1_000_000_000).to_bytes(4, "big"))
    with pytest.raises(EncodeError, match="no alternative"):
        prop.encode(-1)


def test_signed_one_of_charge_discharge_amount(battery: ClassDef) -> None:
    prop = battery.properties[0xE0]
    assert prop.encode(-1) == b"\xff\xff\xff\xff"
    assert prop.decode(b"\xff\xff\xff\xff") == -1
    assert prop.decode((1234).to_bytes(4, "big")) == 1234
    with pytest.raises(DecodeError):
        prop.decode(b"\x00\x00\x00\x00")


def test_conditional_access_rules(battery: ClassDef) -> None:
    for epc in (0xE2, 0xE3, 0xE4):
        assert battery.properties[epc].get is Access.REQUIRED_C
        assert "0xE2" in battery.properties[epc].remark_en
    assert 0xE2 not in battery.required_get()
    assert battery.epcs("get", Access.REQUIRED_C) == {0xE2, 0xE3, 0xE4}
    heater = load_class(ELECTRIC_WATER_HEATER)
    assert heater.properties[0xE3].get is Access.REQUIRED_O
    assert Access.REQUIRED_O.is_supported
    assert not Access.NOT_APPLICABLE.is_supported


def test_required_sets(battery: ClassDef) -> None:
    assert {
        0x80,
        0x81,
        0x82,
        0x88,
        0x8A,
        0x9D,
        0x9E,
        0x9F,
        0xDA,
        0x97,
        0x98,
    } <= battery.required_get()
    assert {0xDA, 0xAA, 0xAB} <= battery.required_set()
    assert 0xD3 not in battery.required_get()
    assert {0x80, 0x88, 0xDA, 0xCF} <= battery.required_inf()
    # Set-only in ECHONET Lite: MRA marks get and inf not applicable.
    assert battery.properties[0xD7].get is Access.NOT_APPLICABLE


# -- superclass merge ------------------------------------------------------------------------


def test_superclass_properties_merged(battery: ClassDef) -> None:
    status = battery.properties[0x80]
    assert status.short_name == "operationStatus"
    assert status.defined_in == SUPERCLASS
    assert status.decode(b"\x30") == "true"
    assert status.encode("false") == b"\x31"

    manufacturer = battery.properties[0x8A]
    assert isinstance(manufacturer.data, RawType)
    assert manufacturer.data.size == 3
    assert manufacturer.decode(b"\x00\x00\x77") == b"\x00\x00\x77"
    with pytest.raises(DecodeError, match="expected 3 bytes, got 2"):
        manufacturer.decode(b"\x00\x77")

    version = battery.properties[0x82]
    assert isinstance(version.data, RawType)
    assert version.data.size == 4

    for epc, name in (
        (0x9D, "statusChangeAnnouncementPropertyMap"),
        (0x9E, "setPropertyMap"),
        (0x9F, "getPropertyMap"),
    ):
        prop = battery.properties[epc]
        assert prop.short_name == name  # MRA's "DEL" marker replaced by a derived name
        assert battery.by_name(name) is prop
        assert prop.get is Access.REQUIRED
        assert isinstance(prop.data, RawType)
        assert (prop.data.min_size, prop.data.max_size) == (1, 17)


def test_class_entries_override_superclass(battery: ClassDef) -> None:
    assert battery.properties[0xDA].defined_in == STORAGE_BATTERY
    current_time = battery.properties[0x97]
    assert current_time.defined_in == STORAGE_BATTERY
    assert current_time.short_name == "currentTime"
    assert current_time.get is Access.REQUIRED  # superclass says optional
    assert current_time.decode(b"\x0c\x22") == dt.time(12, 34)
    with pytest.raises(DecodeError):
        current_time.decode(b"\x18\x00")
    fault = battery.properties[0x89]
    assert fault.defined_in == STORAGE_BATTERY
    assert fault.get is Access.REQUIRED
    # Before Release R the superclass entry (optional) applies.
    assert load_class(STORAGE_BATTERY, "Q").properties[0x89].get is Access.OPTIONAL


def test_mcrule_deletions_not_applied(battery: ClassDef) -> None:
    # 0x027D_mcrule.json "DEL"s these for the Web API; they remain ECHONET Lite properties.
    assert {0x83, 0x89, 0x8C, 0x97, 0x98} <= set(battery.properties)
    assert 0x93 in battery.properties


def test_fault_description_code_ranges(battery: ClassDef) -> None:
    prop = battery.properties[0x89]
    assert prop.decode(b"\x00\x00") == "noFault"
    assert prop.decode(b"\x00\x15") == CodedState("switch", 0x15)
    assert prop.encode(CodedState("switch", 0x15)) == b"\x00\x15"
    assert prop.decode(b"\x00\x09") == "userDefinable"
    assert prop.decode(b"\x01\x00") == CodedState("userDefinable", 0x100)
    with pytest.raises(EncodeError):
        prop.encode("switch")  # a range name alone does not say which code
    with pytest.raises(EncodeError):
        prop.encode(CodedState("switch", 0x30))
    with pytest.raises(DecodeError):
        prop.decode(b"\x00\x08")


def test_duplicate_state_names_keep_their_codes(battery: ClassDef) -> None:
    remote = battery.properties[0x93]
    assert remote.decode(b"\x41") == "true"
    assert remote.decode(b"\x61") == CodedState("true", 0x61)
    assert remote.encode("true") == b"\x41"
    assert remote.encode(CodedState("true", 0x61)) == b"\x61"


# -- release selection -----------------------------------------------------------------------


def test_operation_mode_by_release() -> None:
    def names(release: str) -> set[str]:
        data = load_class(STORAGE_BATTERY, release).properties[0xDA].data
        assert isinstance(data, StateType)
        return set(data.names)

    assert "auto" not in names("C")
    assert "auto" in names("R")
    assert "auto" in names("D")
    assert "other" not in names("A")
    with pytest.raises(DecodeError):
        load_class(STORAGE_BATTERY, "C").properties[0xDA].decode(b"\x46")


def test_properties_appear_at_their_release() -> None:
    assert 0xC1 not in load_class(STORAGE_BATTERY, "L").properties
    assert 0xC1 in load_class(STORAGE_BATTERY, "M").properties
    assert load_class(STORAGE_BATTERY, "latest") is load_class(STORAGE_BATTERY, "R")
    assert load_class(STORAGE_BATTERY) is load_class(STORAGE_BATTERY, "R")
    assert load_class(STORAGE_BATTERY, "C").release == "C"


@pytest.mark.parametrize("release", ["O", "S", "r", "", "1"])
def test_unknown_release_rejected(release: str) -> None:
    with pytest.raises(ValueError, match="release"):
        load_class(STORAGE_BATTERY, release)


def test_class_availability() -> None:
    with pytest.raises(UnknownClassError, match="Release L"):
        load_class(HYBRID_WATER_HEATER, "C")
    assert load_class(HYBRID_WATER_HEATER, "L").class_id == HYBRID_WATER_HEATER
    with pytest.raises(UnknownClassError):
        load_class(0x0130)
    with pytest.raises(ValueError):
        load_class(0x10000)


def test_property_valid_at() -> None:
    entries = [p for p in property_variants(STORAGE_BATTERY) if p.epc == 0xDA]
    assert [(p.valid_from, p.valid_to) for p in entries] == [
        ("A", "A"),
        ("B", "C"),
        ("D", "G"),
        ("H", "latest"),
    ]
    for release in RELEASES:
        assert sum(p.valid_at(release) for p in entries) == 1


# -- node profile ----------------------------------------------------------------------------


def test_node_profile() -> None:
    node = load_class(NODE_PROFILE)
    assert {0xD5, 0xD6, 0x82, 0x83} <= set(node.properties)
    assert all(p.defined_in == NODE_PROFILE for p in node)
    assert 0x81 not in node.properties  # device superclass not merged into a profile
    assert node.properties[0x80].decode(b"\x30") == "true"  # booting
    assert node.properties[0x83].get is Access.REQUIRED
    assert node.properties[0x83].data.size == 17

    instances = node.properties[0xD6]
    assert isinstance(instances.data, ObjectType)
    edt = bytes.fromhex("02027D01026B01")
    value = {"numberOfInstances": 2, "instanceList": [b"\x02\x7d\x01", b"\x02\x6b\x01"]}
    assert instances.decode(edt) == value
    assert instances.encode(value) == edt
    with pytest.raises(DecodeError, match="instanceList"):
        instances.decode(edt[:-1])
    notification = node.properties[0xD5]
    assert notification.decode(b"\x00") == {"numberOfinstances": 0, "instanceList": []}
    with pytest.raises(DecodeError, match="items"):
        notification.decode(b"\x54" + b"\x02\x7d\x01" * 85)


# -- water heaters ---------------------------------------------------------------------------


def test_water_heaters_load() -> None:
    heater = load_class(ELECTRIC_WATER_HEATER)
    hybrid = load_class(HYBRID_WATER_HEATER)
    assert heater.short_name == "electricWaterHeater"
    assert hybrid.name_en == "Hybrid water heater"
    assert hybrid.properties[0xB8].set is Access.REQUIRED
    assert 0x80 in hybrid.properties


def test_electric_water_heater_types() -> None:
    heater = load_class(ELECTRIC_WATER_HEATER)
    alarm = heater.properties[0xC2]
    assert isinstance(alarm.data, BitmapType)
    assert alarm.decode(b"\x02\x00\x00\x00") == {
        "noHotWater": "true",
        "leaking": "false",
        "freezing": "true",
    }
    assert alarm.encode({"noHotWater": "false", "leaking": "true", "freezing": "false"}) == (
        b"\x05\x00\x00\x00"
    )
    with pytest.raises(DecodeError, match="reserved"):
        alarm.decode(b"\x08\x00\x00\x00")

    volume = heater.properties[0xE8]
    assert isinstance(volume.data, LevelType)
    assert volume.decode(b"\x31") == 1
    assert volume.encode(8) == b"\x38"
    with pytest.raises(DecodeError):
        volume.decode(b"\x39")

    temperature = heater.properties[0xB3]
    assert temperature.decode(b"\xfd") == "undefined"
    assert temperature.decode(b"\x3c") == 60
    with pytest.raises(DecodeError):
        temperature.decode(b"\x65")

    surplus = heater.properties[0xD9]
    values = [1000] * 23 + ["invalid"]
    raw = bytes([7, 26, 13]) + (100).to_bytes(2, "big") * 23 + b"\x80\x00"
    decoded = surplus.decode(raw)
    assert decoded == {"month": 7, "day": 26, "hour": 13, "surplusEnergyPredictionValue": values}
    assert surplus.encode(decoded) == raw

    production = heater.properties[0x8E]
    assert production.decode(bytes.fromhex("07E8071A")) == dt.date(2024, 7, 26)
    with pytest.raises(DecodeError, match="date"):
        production.decode(bytes.fromhex("07E8021E"))


# -- every property round-trips ----------------------------------------------------------------


@pytest.mark.parametrize("prop", ALL_VARIANTS, ids=_id)
def test_every_property_round_trips(prop: PropertyDef) -> None:
    samples = prop.data.samples()
    assert samples
    assert prop.data.sample() == samples[0]
    for value in samples:
        edt = prop.encode(value)
        assert prop.decode(edt) == value
        assert prop.encode(prop.decode(edt)) == edt
        if prop.data.size is not None:
            assert len(edt) == prop.data.size
        assert len(edt) <= 255


@pytest.mark.parametrize("class_id", FIVE_CLASSES)
def test_every_release_loads(class_id: int) -> None:
    loaded = 0
    for release in RELEASES:
        try:
            cls = load_class(class_id, release)
        except UnknownClassError:
            continue
        loaded += 1
        for prop in cls:
            assert prop.valid_at(release)
            assert cls.by_name(prop.short_name) is prop
    assert loaded >= len(RELEASES) - 11


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_decode_is_strict_and_canonical(data: st.DataObject) -> None:
    """Any bytes either fail to decode or re-encode to exactly the same bytes."""
    prop = data.draw(st.sampled_from(ALL_VARIANTS))
    base = prop.encode(data.draw(st.sampled_from(prop.data.samples())))
    edt = data.draw(
        st.one_of(
            st.binary(min_size=len(base), max_size=len(base)),
            st.binary(max_size=len(base) + 2),
            st.just(base[:-1]),
            st.just(base + b"\x00"),
        )
    )
    try:
        value = prop.decode(edt)
    except DecodeError as exc:
        assert f"0x{prop.epc:02X}" in str(exc)
        return
    assert prop.encode(value) == edt


# -- wrong lengths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epc", "edt"),
    [
        (0xD3, b"\x00\x00\x05"),
        (0xD3, b"\x00\x00\x00\x00\x05"),
        (0xA7, b""),
        (0xA7, b"\x10\x10"),
        (0xDA, b""),
        (0xDA, b"\x42\x42"),
        (0x80, b"\x30\x00"),
    ],
)
def test_wrong_length_raises(battery: ClassDef, epc: int, edt: bytes) -> None:
    with pytest.raises(DecodeError, match="expected") as info:
        battery.properties[epc].decode(edt)
    assert isinstance(info.value, EchonetError)
    assert isinstance(info.value, ValueError)
    assert f"0x{epc:02X}" in str(info.value)


def test_decode_requires_bytes(battery: ClassDef) -> None:
    with pytest.raises(DecodeError, match="bytes"):
        battery.properties[0xDA].decode("A")  # type: ignore[arg-type]
    assert battery.properties[0xDA].decode(bytearray(b"\x42")) == "charging"


# -- immutability and construction checks --------------------------------------------------


def test_definitions_are_frozen(battery: ClassDef) -> None:
    with pytest.raises(TypeError):
        battery.properties[0x01] = battery.properties[0x80]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        battery.release = "A"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        battery.properties[0xDA].epc = 0xDB  # type: ignore[misc]
    assert hash(battery) == hash(load_class(STORAGE_BATTERY, "R"))
    with pytest.raises(KeyError):
        battery.by_name("noSuchProperty")


@pytest.mark.parametrize(
    "factory",
    [
        lambda: NumberType("int64"),
        lambda: NumberType("uint8", minimum=0, maximum=256),
        lambda: NumberType("uint8", minimum=10, maximum=1),
        lambda: NumberType("uint8", multiple=0),
        lambda: StateType(1, ()),
        lambda: StateType(1, (StateValue(0x100, "big"),)),
        lambda: StateType(1, (StateValue(0x41, "a"), StateValue(0x41, "b"))),
        lambda: RawType(3, 2),
        lambda: LevelType(base=0xFA, maximum=8),
        lambda: TimeType(width=4),
        lambda: ArrayType(item_size=2, items=RawType(3, 3), max_items=4),
        lambda: ObjectType(()),
    ],
)
def test_invalid_data_types_rejected(factory: Any) -> None:
    with pytest.raises(ValueError):
        factory()


def test_property_def_validation() -> None:
    data = RawType(1, 1)
    common: dict[str, Any] = {
        "short_name": "x",
        "name_ja": "",
        "name_en": "",
        "get": Access.OPTIONAL,
        "set": Access.OPTIONAL,
        "inf": Access.OPTIONAL,
        "data": data,
        "defined_in": 0x0130,
    }
    with pytest.raises(ValueError, match="EPC"):
        PropertyDef(epc=0x10, valid_from="A", valid_to="latest", **common)
    with pytest.raises(ValueError, match="release"):
        PropertyDef(epc=0x80, valid_from="C", valid_to="B", **common)
    with pytest.raises(ValueError):
        PropertyDef(epc=0x80, valid_from="A", valid_to="Z", **common)
    with pytest.raises(ValueError, match="shortName"):
        ClassDef(
            class_id=0x0130,
            short_name="c",
            name_ja="",
            name_en="",
            release="R",
            properties={
                0x80: PropertyDef(epc=0x80, valid_from="A", valid_to="latest", **common),
                0x81: PropertyDef(epc=0x81, valid_from="A", valid_to="latest", **common),
            },
        )


# -- MRA data validation ---------------------------------------------------------------------


DEFINITIONS: dict[str, Any] = {"raw_1": {"type": "raw", "minSize": 1, "maxSize": 1}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"$ref": "#/definitions/nope"}, "unresolved reference"),
        ({"$ref": "other.json#/x"}, "unsupported reference"),
        ({"type": "numericValue"}, "unknown data type"),
        ({"type": "raw", "minSize": 1, "maxSize": 1, "pattern": "x"}, "unknown key"),
        ({"type": "number", "format": "uint8", "minimum": 0, "maximum": 300}, "does not fit"),
        ({"type": "state", "size": 1, "enum": [{"edt": "41", "name": "a"}]}, "bad code"),
        ({"oneOf": []}, "non-empty"),
        (
            {
                "type": "object",
                "properties": [{"shortName": "a", "element": {"$ref": "#/definitions/x"}}],
            },
            "unresolved",
        ),
    ],
)
def test_bad_mra_data_raises(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(MraDataError, match=message):
        data_type_from_mra(spec, DEFINITIONS)


def test_reference_cycle_detected() -> None:
    cyclic = {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}
    with pytest.raises(MraDataError, match="cycle"):
        data_type_from_mra({"$ref": "#/definitions/a"}, cyclic)


def test_date_time_and_time_extensions() -> None:
    # Types that MRA v1.3.0 defines but the five classes do not use.
    stamp = data_type_from_mra({"type": "date-time", "size": 6}, {})
    assert stamp.decode(bytes.fromhex("07E8071A0C22")) == dt.datetime(2024, 7, 26, 12, 34)
    duration = data_type_from_mra({"type": "time", "size": 2, "maximumOfHour": 255}, {})
    assert duration.decode(b"\x30\x00") == dt.timedelta(hours=48)
    assert duration.encode(dt.timedelta(hours=48)) == b"\x30\x00"
    special = data_type_from_mra(
        {"type": "number", "format": "int16", "overflowCode": True, "underflowCode": True}, {}
    )
    assert special.decode(b"\x7f\xff") == "overflow"
    assert special.decode(b"\x80\x00") == "underflow"
    assert special.encode("overflow") == b"\x7f\xff"
    assert isinstance(special, DataType)
