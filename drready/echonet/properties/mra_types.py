"""Building a data type (:mod:`drready.echonet.datatypes`) from its MRA JSON definition,
strictly: an unknown key or type is an :class:`MraDataError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from drready.echonet.datatypes import (
    ArrayType,
    BitField,
    BitmapType,
    DataType,
    DateTimeType,
    DateType,
    LevelType,
    NumberType,
    ObjectElement,
    ObjectType,
    OneOfType,
    RawType,
    StateType,
    StateValue,
    TimeType,
)
from drready.echonet.properties.definitions import REF_PREFIX, MraDataError

# Keys each MRA data "type" may carry (MRA v1.3.0, data format 1.2.0). Anything else is
# refused: an unknown key could be a constraint the codec would silently ignore.
_TYPE_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "number": frozenset(
        {"type", "format", "minimum", "maximum", "unit", "multiple", "multipleOf", "enum"}
        | {"coefficient", "overflowCode", "underflowCode"}
    ),
    "state": frozenset({"type", "size", "enum"}),
    "level": frozenset({"type", "base", "minimum", "maximum"}),
    "raw": frozenset({"type", "minSize", "maxSize"}),
    "date": frozenset({"type", "size"}),
    "time": frozenset({"type", "size", "maximumOfHour"}),
    "date-time": frozenset({"type", "size"}),
    "object": frozenset({"type", "properties"}),
    "array": frozenset({"type", "itemSize", "minItems", "maxItems", "items"}),
    "bitmap": frozenset({"type", "size", "bitmaps"}),
}


_STATE_KEYS: Final = frozenset({"edt", "name", "descriptions", "readOnly"})


_ELEMENT_KEYS: Final = frozenset({"elementName", "shortName", "element"})


_BITMAP_KEYS: Final = frozenset({"name", "descriptions", "position", "value"})


PROPERTY_KEYS: Final = frozenset(
    {"epc", "validRelease", "propertyName", "shortName", "accessRule", "descriptions", "data"}
    | {"note", "remark"}
)


CLASS_KEYS: Final = frozenset({"eoj", "validRelease", "className", "shortName", "elProperties"})


def expect_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MraDataError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def check_keys(value: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise MraDataError(f"{where}: unknown key(s) {unknown}")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MraDataError(f"{where}: expected an integer, got {value!r}")
    return value


def _opt_int(spec: Mapping[str, Any], key: str, where: str) -> int | None:
    return None if key not in spec else _int(spec[key], f"{where}.{key}")


def parse_code(value: Any, where: str) -> int:
    # MRA writes codes as text: "0x41", "0x00000000", bit masks as "0b00000001".
    if not isinstance(value, str) or value[:2] not in ("0x", "0b"):
        raise MraDataError(f"{where}: bad code {value!r} (expected a 0x/0b string)")
    try:
        return int(value, 0)
    except ValueError as exc:
        raise MraDataError(f"{where}: bad code {value!r}") from exc


def in_language(value: Any, lang: str) -> str:
    if isinstance(value, Mapping) and isinstance(value.get(lang), str):
        return str(value[lang])
    return ""


def _states(entries: Any, where: str) -> tuple[StateValue, ...]:
    if not isinstance(entries, list):
        raise MraDataError(f"{where}: enum must be a list")
    values = []
    for i, raw in enumerate(entries):
        entry = expect_object(raw, f"{where}[{i}]")
        check_keys(entry, _STATE_KEYS, f"{where}[{i}]")
        name = entry.get("name")
        if not isinstance(name, str):
            raise MraDataError(f"{where}[{i}]: state name missing")
        code = entry.get("edt")
        first, last = (
            code.split("...", 1) if isinstance(code, str) and "..." in code else (code, None)
        )
        values.append(
            StateValue(
                edt=parse_code(first, f"{where}[{i}].edt"),
                last=None if last is None else parse_code(last, f"{where}[{i}].edt"),
                name=name,
                description_ja=in_language(entry.get("descriptions"), "ja"),
                description_en=in_language(entry.get("descriptions"), "en"),
                read_only=entry.get("readOnly") is True,
            )
        )
    return tuple(values)


def _resolve(spec: Mapping[str, Any], definitions: Mapping[str, Any], where: str) -> Any:
    ref = spec.get("$ref")
    if len(spec) != 1 or not isinstance(ref, str) or not ref.startswith(REF_PREFIX):
        raise MraDataError(f"{where}: unsupported reference {dict(spec)!r}")
    name = ref.removeprefix(REF_PREFIX)
    if name not in definitions:
        raise MraDataError(f"{where}: unresolved reference {ref!r}")
    return definitions[name]


def data_type_from_mra(
    spec: Any, definitions: Mapping[str, Any], where: str = "data", _depth: int = 0
) -> DataType:
    """Build the :class:`DataType` of an MRA ``data`` object (``$ref`` from ``definitions``).

    Raises :class:`MraDataError` for unresolvable references, unknown types or keys, and
    values the codecs refuse (e.g. a state code that does not fit its size).
    """
    if _depth > 16:  # MRA nests a few levels at most; deeper means a reference cycle.
        raise MraDataError(f"{where}: data nesting too deep (reference cycle?)")
    node = expect_object(spec, where)
    if "$ref" in node:
        target = _resolve(node, definitions, where)
        return data_type_from_mra(target, definitions, f"{where}->{node['$ref']}", _depth + 1)
    try:
        return _build(node, definitions, where, _depth)
    except MraDataError:
        raise
    except ValueError as exc:  # a codec constructor refused the values
        raise MraDataError(f"{where}: {exc}") from exc


def _build(
    node: Mapping[str, Any], definitions: Mapping[str, Any], where: str, depth: int
) -> DataType:
    def sub(value: Any, path: str) -> DataType:
        return data_type_from_mra(value, definitions, path, depth + 1)

    if "oneOf" in node:
        check_keys(node, frozenset({"oneOf"}), where)
        options = node["oneOf"]
        if not isinstance(options, list) or not options:
            raise MraDataError(f"{where}.oneOf: expected a non-empty list")
        return OneOfType(tuple(sub(o, f"{where}.oneOf[{i}]") for i, o in enumerate(options)))
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in _TYPE_KEYS:
        raise MraDataError(f"{where}: unknown data type {kind!r}")
    check_keys(node, _TYPE_KEYS[kind], where)
    if kind == "number":
        enum_values = node.get("enum", [])
        coefficient = node.get("coefficient", [])
        if not isinstance(enum_values, list) or not isinstance(coefficient, list):
            raise MraDataError(f"{where}: enum/coefficient must be lists")
        unit = node.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise MraDataError(f"{where}.unit: expected a string, got {unit!r}")
        multiple = node.get("multiple")
        if multiple is not None and (
            isinstance(multiple, bool) or not isinstance(multiple, int | float)
        ):
            raise MraDataError(f"{where}.multiple: expected a number, got {multiple!r}")
        return NumberType(
            format=str(node.get("format")),
            minimum=_opt_int(node, "minimum", where),
            maximum=_opt_int(node, "maximum", where),
            unit=unit,
            multiple=multiple,
            enum=tuple(_int(v, f"{where}.enum") for v in enum_values),
            multiple_of=_opt_int(node, "multipleOf", where),
            coefficient=tuple(parse_code(c, f"{where}.coefficient") for c in coefficient),
            overflow_code=node.get("overflowCode") is True,
            underflow_code=node.get("underflowCode") is True,
        )
    if kind == "state":
        return StateType(
            _int(node.get("size"), f"{where}.size"), _states(node.get("enum"), f"{where}.enum")
        )
    if kind == "level":
        return LevelType(
            # Without "base" (definitions.json leveldd_0-16) the codes start at 0x00.
            base=parse_code(node.get("base", "0x00"), f"{where}.base"),
            maximum=_int(node.get("maximum"), f"{where}.maximum"),
            minimum=_int(node.get("minimum", 1), f"{where}.minimum"),
        )
    if kind == "raw":
        return RawType(
            _int(node.get("minSize"), f"{where}.minSize"),
            _int(node.get("maxSize"), f"{where}.maxSize"),
        )
    if kind == "date":
        if node.get("size", 4) != 4:
            raise MraDataError(f"{where}: date size must be 4")
        return DateType()
    if kind == "time":
        return TimeType(
            width=_int(node.get("size", 2), f"{where}.size"),
            maximum_of_hour=_int(node.get("maximumOfHour", 23), f"{where}.maximumOfHour"),
        )
    if kind == "date-time":
        return DateTimeType(_int(node.get("size", 7), f"{where}.size"))
    if kind == "object":
        return ObjectType(_elements(node.get("properties"), sub, f"{where}.properties"))
    if kind == "array":
        return ArrayType(
            item_size=_int(node.get("itemSize"), f"{where}.itemSize"),
            items=sub(node.get("items"), f"{where}.items"),
            max_items=_int(node.get("maxItems"), f"{where}.maxItems"),
            min_items=_int(node.get("minItems", 0), f"{where}.minItems"),
        )
    return BitmapType(
        _int(node.get("size"), f"{where}.size"), _bit_fields(node, definitions, where)
    )


def _elements(raw: Any, sub: Any, where: str) -> tuple[ObjectElement, ...]:
    if not isinstance(raw, list):
        raise MraDataError(f"{where}: expected a list")
    elements = []
    for i, item in enumerate(raw):
        entry = expect_object(item, f"{where}[{i}]")
        check_keys(entry, _ELEMENT_KEYS, f"{where}[{i}]")
        name = entry.get("shortName")
        if not isinstance(name, str):
            raise MraDataError(f"{where}[{i}]: element shortName missing")
        data = sub(entry.get("element"), f"{where}[{i}].element")
        label = entry.get("elementName")
        elements.append(
            ObjectElement(name, data, in_language(label, "ja"), in_language(label, "en"))
        )
    return tuple(elements)


def _bit_fields(
    node: Mapping[str, Any], definitions: Mapping[str, Any], where: str
) -> tuple[BitField, ...]:
    raw = node.get("bitmaps")
    if not isinstance(raw, list):
        raise MraDataError(f"{where}.bitmaps: expected a list")
    fields = []
    for i, item in enumerate(raw):
        path = f"{where}.bitmaps[{i}]"
        entry = expect_object(item, path)
        check_keys(entry, _BITMAP_KEYS, path)
        position = expect_object(entry.get("position"), f"{path}.position")
        check_keys(position, frozenset({"index", "bitMask"}), f"{path}.position")
        value = expect_object(entry.get("value"), f"{path}.value")
        if "$ref" in value:
            value = expect_object(_resolve(value, definitions, f"{path}.value"), f"{path}.value")
        # Bit field values are "state" with size 0: the codes are the field's bits, not bytes.
        check_keys(value, _TYPE_KEYS["state"], f"{path}.value")
        if value.get("type") != "state" or value.get("size") != 0:
            raise MraDataError(f"{path}.value: expected a size-0 state")
        name = entry.get("name")
        if not isinstance(name, str):
            raise MraDataError(f"{path}: bit field name missing")
        fields.append(
            BitField(
                name=name,
                index=_int(position.get("index"), f"{path}.position.index"),
                bit_mask=parse_code(position.get("bitMask"), f"{path}.position.bitMask"),
                values=_states(value.get("enum"), f"{path}.value.enum"),
                description_ja=in_language(entry.get("descriptions"), "ja"),
                description_en=in_language(entry.get("descriptions"), "en"),
            )
        )
    return tuple(fields)
