"""ECHONET Lite EDT <-> ECHONET Lite Web API JSON values, over the MRA data types.

The Web API names a property by its MRA ``shortName`` and carries its value as plain JSON
(ECHONET Lite Web API Guideline, API specification part, and the Machine Readable Appendix's
conversion rules ``*_mcrule.json``). How each MRA type reads in JSON, decided here once:

========== ===================================================================================
MRA type   JSON value
========== ===================================================================================
number     a number (scaled by ``multiple``); ``"overflow"`` / ``"underflow"`` for those codes
state      the state's name; the names ``"true"`` / ``"false"`` are JSON ``true`` / ``false``
           (``operationStatus``, ``faultStatus``: the Web API's booleans)
level      an integer
raw        ``"0x"`` and the bytes in hex (``"0x0a1b"``)
date       ``"YYYY-MM-DD"``
time       ``"HH:MM"`` or ``"HH:MM:SS"`` (hours may pass 23 for durations)
date-time  ``"YYYY-MM-DDTHH:MM:SS"`` (``HH:MM`` without seconds); no zone, as on the wire
object     an object of element shortName -> value
array      an array
bitmap     an object of field name -> state (``true`` / ``false`` as above)
oneOf      whatever the first alternative that accepts the value gives
========== ===================================================================================

Superclass properties the mcrule files re-shape (``0x0000_mcrule.json``) are read their way:
0x82 ``protocol`` is ``{"type", "version"}``, 0x8A ``manufacturer`` is ``{"code"}`` (the
conversion rule's ``descriptions`` need the consortium's maker list, which is not shipped), and
0x8C ``productCode`` / 0x8D ``serialNumber`` are the ASCII text (Appendix: ASCII, space padded).

:func:`property_schema` gives the JSON Schema of one property's value, which the device
description carries and both ends check values against.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from drready.echonet.datatypes import (
    ArrayType,
    BitmapType,
    CodedState,
    DataType,
    DateTimeType,
    DateType,
    LevelType,
    NumberType,
    ObjectType,
    OneOfType,
    RawType,
    StateType,
    TimeType,
)
from drready.echonet.errors import DecodeError, EncodeError
from drready.echonet.properties import PropertyDef

__all__ = [
    "ValueConversionError",
    "edt_to_json",
    "json_to_edt",
    "property_schema",
]

#: Superclass EPCs whose Web API shape the MRA conversion rules change (0x0000_mcrule.json).
EPC_PROTOCOL: Final = 0x82
EPC_MANUFACTURER: Final = 0x8A
EPC_PRODUCT_CODE: Final = 0x8C
EPC_SERIAL_NUMBER: Final = 0x8D
_ASCII_EPCS: Final = frozenset({EPC_PRODUCT_CODE, EPC_SERIAL_NUMBER})
_SPECIAL_EPCS: Final = _ASCII_EPCS | {EPC_PROTOCOL, EPC_MANUFACTURER}
#: The Appendix release sits in byte 3 of a device object's 0x82 (Appendix, superclass 0x82).
_PROTOCOL_TYPE: Final = "ECHONET_Lite"

_HEX = re.compile(r"0x((?:[0-9A-Fa-f]{2})*)")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{2,3}):(\d{2})(?::(\d{2}))?")
_DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?")
_RELEASE = re.compile(r"Rel\.([A-Z])")


class ValueConversionError(ValueError):
    """A JSON value that does not fit the property, or EDT that cannot be read as one."""


# -- EDT -> JSON ----------------------------------------------------------------------------
def _state_json(name: str) -> Any:
    return {"true": True, "false": False}.get(name, name)


def _to_json(data: DataType, value: object) -> Any:
    if isinstance(value, CodedState):
        return _state_json(value.name)
    if isinstance(data, StateType):
        return _state_json(str(value))
    if isinstance(data, BitmapType) and isinstance(value, Mapping):
        return {str(k): _state_json(str(v)) for k, v in value.items()}
    if isinstance(data, ObjectType) and isinstance(value, Mapping):
        elements = {e.short_name: e.data for e in data.elements}
        return {str(k): _to_json(elements[str(k)], v) for k, v in value.items()}
    if isinstance(data, ArrayType) and isinstance(value, list):
        return [_to_json(data.items, item) for item in value]
    if isinstance(data, OneOfType):
        for alternative in data.alternatives:
            try:
                alternative.encode(value)
            except EncodeError:
                continue
            return _to_json(alternative, value)
        raise ValueConversionError(f"{value!r} fits no alternative")
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S" if data.size == 7 else "%Y-%m-%dT%H:%M")
    if isinstance(value, dt.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if data.size == 3 else "%H:%M")
    if isinstance(value, dt.timedelta):
        hours, rest = divmod(int(value.total_seconds()), 3600)
        minutes, seconds = divmod(rest, 60)
        text = f"{hours:02d}:{minutes:02d}"
        return f"{text}:{seconds:02d}" if data.size == 3 else text
    return value  # numbers, levels, "overflow"/"underflow"


def edt_to_json(prop: PropertyDef, edt: bytes) -> Any:
    """The Web API value of property ``prop`` whose EDT is ``edt``."""
    try:
        if prop.epc in _SPECIAL_EPCS:
            special = _superclass_to_json(prop.epc, edt)
            if special is not None:
                return special
        return _to_json(prop.data, prop.decode(edt))
    except DecodeError as exc:
        raise ValueConversionError(str(exc)) from exc


def _superclass_to_json(epc: int, edt: bytes) -> Any:
    if epc == EPC_PROTOCOL and len(edt) == 4:
        release = chr(edt[2]) if 0x41 <= edt[2] <= 0x5A else "?"
        return {"type": _PROTOCOL_TYPE, "version": f"Rel.{release}"}
    if epc == EPC_MANUFACTURER and len(edt) == 3:
        return {"code": "0x" + edt.hex().upper()}
    if epc in _ASCII_EPCS:
        return edt.decode("ascii", "replace").rstrip(" \x00")
    return None


# -- JSON -> EDT ----------------------------------------------------------------------------
def _state_name(value: Any) -> Any:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


def _match(pattern: re.Pattern[str], value: Any, what: str) -> re.Match[str]:
    match = pattern.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise EncodeError(f"{value!r} is not {what}")
    return match


def _from_json(data: DataType, value: Any) -> object:
    """JSON value -> the Python value ``data.encode`` takes (EncodeError if it cannot)."""
    if isinstance(data, StateType):
        return _state_name(value)
    if isinstance(data, BitmapType):
        if not isinstance(value, Mapping):
            raise EncodeError(f"expected an object, got {type(value).__name__}")
        return {k: _state_name(v) for k, v in value.items()}
    if isinstance(data, ObjectType):
        if not isinstance(value, Mapping):
            raise EncodeError(f"expected an object, got {type(value).__name__}")
        elements = {e.short_name: e.data for e in data.elements}
        unknown = sorted(set(value) - set(elements))
        if unknown:
            raise EncodeError(f"unexpected element(s) {unknown}")
        return {k: _from_json(elements[k], v) for k, v in value.items()}
    if isinstance(data, ArrayType):
        if not isinstance(value, list):
            raise EncodeError(f"expected an array, got {type(value).__name__}")
        return [_from_json(data.items, item) for item in value]
    if isinstance(data, RawType):
        return bytes.fromhex(_match(_HEX, value, "0x and hex bytes").group(1))
    if isinstance(data, DateType):
        year, month, day = (int(g) for g in _match(_DATE, value, "a YYYY-MM-DD date").groups())
        try:
            return dt.date(year, month, day)
        except ValueError as exc:
            raise EncodeError(str(exc)) from exc
    if isinstance(data, TimeType):
        match = _match(_TIME, value, "a HH:MM[:SS] time")
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if data.maximum_of_hour > 23:
            return dt.timedelta(hours=hour, minutes=minute, seconds=second)
        try:
            return dt.time(hour, minute, second)
        except ValueError as exc:
            raise EncodeError(str(exc)) from exc
    if isinstance(data, DateTimeType):
        match = _match(_DATE_TIME, value, "a YYYY-MM-DDTHH:MM[:SS] date-time")
        year, month, day, hour, minute, second = (int(g) for g in match.groups(default="0"))
        try:
            return dt.datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            raise EncodeError(str(exc)) from exc
    return value  # number, level: the codec checks the type itself


def _to_edt(data: DataType, value: Any) -> bytes:
    if isinstance(data, OneOfType):
        reasons = []
        for alternative in data.alternatives:
            try:
                return _to_edt(alternative, value)
            except EncodeError as exc:
                reasons.append(f"{alternative.kind}: {exc}")
        raise EncodeError("no alternative accepts the value (" + "; ".join(reasons) + ")")
    if isinstance(data, ObjectType) and isinstance(value, Mapping):
        # Elements may be oneOf types: encode each through _to_edt, not the object's codec.
        names = [e.short_name for e in data.elements]
        if set(value) != set(names):
            raise EncodeError(f"expected exactly the elements {names}")
        return b"".join(_to_edt(e.data, value[e.short_name]) for e in data.elements)
    return data.encode(_from_json(data, value))


def json_to_edt(prop: PropertyDef, value: Any) -> bytes:
    """The EDT that writes Web API ``value`` to property ``prop``."""
    try:
        if prop.epc == EPC_PROTOCOL and isinstance(value, Mapping):
            release = _match(_RELEASE, value.get("version"), 'a "Rel.X" version')[1]
            return bytes([0, 0, ord(release), 0])
        if prop.epc == EPC_MANUFACTURER and isinstance(value, Mapping):
            code = bytes.fromhex(_match(_HEX, value.get("code"), "a 0x code")[1])
            return prop.encode(code)
        if prop.epc in _ASCII_EPCS and isinstance(value, str):
            if not value.isascii() or len(value) > 12:
                raise EncodeError(f"{value!r} is not ASCII of at most 12 characters")
            return prop.encode(value.encode("ascii").ljust(12, b" "))
        return _to_edt(prop.data, value)
    except EncodeError as exc:
        raise ValueConversionError(f"{prop.short_name}: {exc}") from exc


# -- JSON Schema of a value -----------------------------------------------------------------
def _state_values(names: Sequence[str]) -> list[Any]:
    return list(dict.fromkeys(_state_json(n) for n in names))


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    if set(map(type, values)) == {bool} and len(values) == 2:
        return {"type": "boolean"}
    return {"enum": values}


def _scaled(data: NumberType, raw: int) -> int | float:
    if data.multiple is None:
        return raw
    scaled = Decimal(raw) * Decimal(str(data.multiple))
    return float(scaled) if isinstance(data.multiple, float) else int(scaled)


def _schema(data: DataType) -> dict[str, Any]:
    if isinstance(data, NumberType):
        fractional = isinstance(data.multiple, float)
        schema: dict[str, Any] = {
            "type": "number" if fractional else "integer",
            "minimum": data.scaled_minimum,
            "maximum": data.scaled_maximum,
        }
        if data.enum:
            schema["enum"] = [_scaled(data, raw) for raw in data.enum]
        if data.unit:
            schema["unit"] = data.unit  # an annotation, as in the Web API device descriptions
        flags = (("overflow", data.overflow_code), ("underflow", data.underflow_code))
        specials = [name for name, declared in flags if declared]
        return {"anyOf": [schema, {"enum": specials}]} if specials else schema
    if isinstance(data, StateType):
        return _enum_schema(_state_values([v.name for v in data.values]))
    if isinstance(data, LevelType):
        return {"type": "integer", "minimum": data.minimum, "maximum": data.maximum}
    if isinstance(data, RawType):
        return {
            "type": "string",
            "pattern": f"^0x([0-9A-Fa-f]{{2}}){{{data.min_size},{data.max_size}}}$",
        }
    if isinstance(data, DateType):
        return {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    if isinstance(data, TimeType):
        hours = r"\d{2,3}" if data.maximum_of_hour > 23 else r"\d{2}"
        seconds = ":\\d{2}" if data.size == 3 else ""
        return {"type": "string", "pattern": f"^{hours}:\\d{{2}}{seconds}$"}
    if isinstance(data, DateTimeType):
        seconds = ":\\d{2}" if data.size == 7 else ""
        return {
            "type": "string",
            "pattern": f"^\\d{{4}}-\\d{{2}}-\\d{{2}}T\\d{{2}}:\\d{{2}}{seconds}$",
        }
    if isinstance(data, ObjectType):
        return {
            "type": "object",
            "properties": {e.short_name: _schema(e.data) for e in data.elements},
            "required": [e.short_name for e in data.elements],
            "additionalProperties": False,
        }
    if isinstance(data, ArrayType):
        return {
            "type": "array",
            "items": _schema(data.items),
            "minItems": data.min_items,
            "maxItems": data.max_items,
        }
    if isinstance(data, BitmapType):
        return {
            "type": "object",
            "properties": {
                f.name: _enum_schema(_state_values([v.name for v in f.values])) for f in data.fields
            },
            "required": [f.name for f in data.fields],
            "additionalProperties": False,
        }
    if isinstance(data, OneOfType):
        return {"anyOf": [_schema(a) for a in data.alternatives]}
    raise ValueConversionError(f"no JSON Schema for MRA type {data.kind!r}")


def property_schema(prop: PropertyDef) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the Web API value of ``prop``."""
    if prop.epc == EPC_PROTOCOL:
        return {
            "type": "object",
            "properties": {"type": {"type": "string"}, "version": {"type": "string"}},
            "required": ["type", "version"],
        }
    if prop.epc == EPC_MANUFACTURER:
        return {
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^0x[0-9A-Fa-f]{6}$"},
                "descriptions": {"type": "object"},
            },
            "required": ["code"],
        }
    if prop.epc in _ASCII_EPCS:
        return {"type": "string", "maxLength": 12}
    return _schema(prop.data)
