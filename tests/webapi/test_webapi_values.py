"""EDT <-> ECHONET Lite Web API values over the MRA types, and the documents' JSON Schemas."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from drready.echonet.datatypes import CodedState
from drready.echonet.properties import load_class
from drready.webapi import validation as schemas
from drready.webapi.values import (
    ValueConversionError,
    edt_to_json,
    json_to_edt,
    property_schema,
)

CLASSES = (0x027D, 0x026B, 0x02A6)
SPECIAL = {0x82, 0x8A, 0x8C, 0x8D}


def _cases() -> list[Any]:
    cases = []
    for class_id in CLASSES:
        for prop in load_class(class_id):
            if prop.epc in SPECIAL:
                continue
            for index, sample in enumerate(prop.data.samples()):
                if isinstance(sample, CodedState):
                    continue  # a name alone encodes to the name's first code: not a round trip
                cases.append(
                    pytest.param(
                        class_id,
                        prop.short_name,
                        sample,
                        id=f"{class_id:04X}-{prop.short_name}-{index}",
                    )
                )
    return cases


@pytest.mark.parametrize(("class_id", "name", "sample"), _cases())
def test_every_mra_sample_round_trips_through_json(class_id: int, name: str, sample: Any) -> None:
    prop = load_class(class_id).by_name(name)
    edt = prop.encode(sample)
    value = edt_to_json(prop, edt)
    assert schemas.value_problems(property_schema(prop), value) == []
    assert json_to_edt(prop, value) == edt


@pytest.mark.parametrize("class_id", CLASSES)
def test_property_schemas_are_valid_json_schemas(class_id: int) -> None:
    for prop in load_class(class_id):
        Draft202012Validator.check_schema(property_schema(prop))


BATTERY = load_class(0x027D)


@pytest.mark.parametrize(
    ("name", "edt", "value"),
    [
        ("operationStatus", b"\x30", True),
        ("operationStatus", b"\x31", False),
        ("operationMode", b"\x42", "charging"),
        ("protocol", b"\x00\x00R\x00", {"type": "ECHONET_Lite", "version": "Rel.R"}),
        ("manufacturer", b"\x00\x00\x77", {"code": "0x000077"}),
        ("serialNumber", b"SIM0000001  ", "SIM0000001"),
        ("productCode", b"DRR-BAT-SIM ", "DRR-BAT-SIM"),
        ("id", bytes(range(17)), "0x" + bytes(range(17)).hex()),
        ("currentTime", b"\x0c\x22", "12:34"),
        ("currentDate", b"\x07\xe8\x07\x1a", "2024-07-26"),
        ("minimumAndMaximumChargingElectricPower", bytes(8), {"minValue": 0, "maxValue": 0}),
        ("acTargetChargingElectricEnergy", bytes(4), "noSetting"),
    ],
)
def test_web_api_shapes(name: str, edt: bytes, value: Any) -> None:
    prop = BATTERY.by_name(name)
    assert edt_to_json(prop, edt) == value
    assert json_to_edt(prop, value) == edt
    assert schemas.value_problems(property_schema(prop), value) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("operationStatus", "on"),
        ("operationMode", "turbo"),
        ("chargingPower", -5),
        ("chargingPower", True),
        ("currentDate", "2024-13-40"),
        ("serialNumber", "much too long a serial"),
        ("minimumAndMaximumChargingElectricPower", {"minValue": 0}),
    ],
)
def test_values_that_do_not_fit_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ValueConversionError):
        json_to_edt(BATTERY.by_name(name), value)


@pytest.mark.parametrize("name", schemas.DOCUMENTS)
def test_document_schemas_load_and_are_valid(name: str) -> None:
    Draft202012Validator.check_schema(schemas.load_schema(name))


@pytest.mark.parametrize(
    ("name", "document", "valid"),
    [
        (schemas.DEVICES, {"devices": [], "hasMore": False, "limit": 1, "offset": 0}, True),
        (
            schemas.DEVICES,
            {"devices": [{"id": "a"}], "hasMore": False, "limit": 1, "offset": 0},
            False,
        ),
        (schemas.PROPERTY, {"operationStatus": True}, True),
        (schemas.PROPERTY, {"operationStatus": True, "x": 1}, False),
        (schemas.PROPERTY, {"operationStatus": None}, False),
        (schemas.PROPERTIES, {"a": 1, "b": "x", "c": {"d": 1}}, True),
        (schemas.ERROR, {"type": "referenceError", "message": "no"}, True),
        (schemas.ERROR, {"error": "invalid_client"}, True),
        (schemas.ERROR, {"code": 404}, False),
        (schemas.TOKEN, {"access_token": "x" * 20, "token_type": "Bearer", "expires_in": 60}, True),
        (schemas.TOKEN, {"access_token": "x" * 20, "expires_in": 60}, False),
    ],
)
def test_document_tables(name: str, document: Any, valid: bool) -> None:
    assert (schemas.problems(name, document) == []) is valid
