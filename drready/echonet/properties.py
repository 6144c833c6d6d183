"""ECHONET Lite property definitions, built from the Machine Readable Appendix (MRA).

The source is the ECHONET Consortium MRA v1.3.0 (ECHONET Lite Appendix Release R, MIT
licence, see ``mra/COPYRIGHT.txt``), shipped as package data in ``drready/echonet/mra/``.
Nothing here is typed in by hand: names, access rules, release ranges and EDT codecs come
from the JSON at first use and are cached.

Reading of the data, decided here once:

* **Releases.** Every class and property entry carries ``validRelease {from, to}``; ``to`` may
  be ``"latest"``. :func:`load_class` picks, per EPC, the single entry valid at the requested
  release (entries of one EPC must not overlap; that is checked).
* **Superclass.** Device classes inherit the device object superclass (``0x0000.json``); an
  entry in the class file replaces the superclass entry for the same EPC.
* **Node profile 0x0EF0 is not merged with 0x0000.** Profile objects have their own superclass
  (ECHONET Lite Spec. Part 2 §6.10), and ``0x0EF0.json`` already lists the properties it
  inherits (0x80, 0x82, 0x83, 0x88..0x8E, 0x9D..0x9F) with profile-specific meanings: 0x80 is
  booting / not booting, 0x82 is the ECHONET Lite version (not the Appendix release), 0x83 is
  required. Merging 0x0000 would wrongly add device-only properties such as 0x81
  installation location (get/set required for devices).
* **shortName "DEL".** MRA marks properties that the ECHONET Lite Web API does not expose with
  the shortName ``"DEL"`` (superclass 0x97 and the property maps 0x9D..0x9F). The properties
  still exist on the wire, so they are kept and given a camelCase name derived from their
  English name (``"Get property map"`` -> ``getPropertyMap``).
* **mcrule files are not applied.** ``0x0000_mcrule.json`` and ``0x027D_mcrule.json`` are the
  MRA-to-Web-API conversion rules: they re-shape values for Web API JSON (0x82 as
  ``{type, version}``, 0x8A as ``{code, descriptions}``, 0x97 + 0x98 joined into one
  ``date-time``) and drop ("DEL") properties the Web API represents elsewhere (for 0x027D:
  0x83, 0x89, 0x8C, 0x97, 0x98). They describe the Web API view, not the ECHONET Lite property
  set: 0x97/0x98 are get-required for storage batteries from Release H on in ``0x027D.json``
  itself. Applying them would remove mandatory properties, so they ship unchanged and unread.
* **Unknown keys or types are errors.** Every data type in the five class files has a codec;
  an unresolvable ``$ref``, unknown ``type`` or unknown key raises :class:`MraDataError` at
  load instead of silently degrading to raw bytes.
"""

from __future__ import annotations

import enum
import functools
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, Literal

from drready.echonet.datatypes import (
    ArrayType,
    BitField,
    BitmapType,
    Buffer,
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
from drready.echonet.errors import DecodeError, EncodeError

__all__ = [
    "LATEST",
    "MRA_RELEASE",
    "MRA_VERSION",
    "NODE_PROFILE",
    "RELEASES",
    "SUPERCLASS",
    "Access",
    "ClassDef",
    "MraDataError",
    "PropertyDef",
    "UnknownClassError",
    "available_classes",
    "data_type_from_mra",
    "load_class",
    "property_variants",
]

#: Appendix releases in order. There is no Release "O" (the Appendix went N -> P).
RELEASES: Final[tuple[str, ...]] = (*"ABCDEFGHIJKLMN", "P", "Q", "R")
#: MRA's open upper bound of ``validRelease``.
LATEST: Final = "latest"
#: Device object superclass and node profile class codes (ECHONET Lite Spec. Part 2).
SUPERCLASS: Final = 0x0000
NODE_PROFILE: Final = 0x0EF0

_PACKAGE: Final = "drready.echonet"
_MRA_DIR: Final = "mra"
_CLASS_FILE = re.compile(r"0x[0-9A-F]{4}\.json")
_REF_PREFIX: Final = "#/definitions/"

Rule = Literal["get", "set", "inf"]


class MraDataError(ValueError):
    """The shipped MRA JSON is inconsistent or uses something this loader does not know."""


class UnknownClassError(LookupError):
    """No MRA file for the class, or the class does not exist at the requested release."""


def _read_json(name: str) -> Any:
    resource = resources.files(_PACKAGE) / _MRA_DIR / name
    try:
        return json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UnknownClassError(f"no MRA file {name}") from exc
    except json.JSONDecodeError as exc:
        raise MraDataError(f"{name}: not valid JSON: {exc}") from exc


def _meta() -> tuple[str, str]:
    document = _read_json("metaData.json")
    meta = document.get("metaData") if isinstance(document, dict) else None
    if not isinstance(meta, dict):
        raise MraDataError("metaData.json: no metaData object")
    version, release = meta.get("dataVersion"), meta.get("release")
    if not isinstance(version, str) or release not in RELEASES:
        raise MraDataError(f"metaData.json: unexpected dataVersion/release {version!r}/{release!r}")
    if release != RELEASES[-1]:
        # A newer MRA needs its release letter added to RELEASES (and a review of new types).
        raise MraDataError(f"MRA release {release} is not the newest known release {RELEASES[-1]}")
    return version, release


#: MRA data version, from ``mra/metaData.json`` (``"1.3.0"``).
#: MRA_RELEASE is the Appendix release it describes (``"R"``).
MRA_VERSION, MRA_RELEASE = _meta()


class Access(enum.Enum):
    """MRA ``accessRule`` values (get / set / inf), all those used by MRA v1.3.0."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    NOT_APPLICABLE = "notApplicable"
    #: Conditionally required; the property's ``remark`` states the condition, e.g. storage
    #: battery 0xE2..0xE4: "Either 0xE2, 0xE3 or 0xE4 is required."
    REQUIRED_C = "required_c"
    #: Required when the device has the function the property controls (Appendix footnote;
    #: e.g. electric water heater 0xE3 automatic bath mode). The MRA gives no machine-readable
    #: condition.
    REQUIRED_O = "required_o"

    @property
    def is_supported(self) -> bool:
        """The access may be implemented (anything but ``notApplicable``)."""
        return self is not Access.NOT_APPLICABLE


def _release_index(release: str, what: str) -> int:
    if release == LATEST:
        return len(RELEASES) - 1
    if release not in RELEASES:
        raise ValueError(f"{what}: {release!r} is not an Appendix release ({''.join(RELEASES)})")
    return RELEASES.index(release)


def _normalize_release(release: str) -> str:
    return RELEASES[_release_index(release, "release")]


@dataclass(frozen=True)
class PropertyDef:
    """One EPC of one class, as valid at one release range."""

    epc: int
    short_name: str
    name_ja: str
    name_en: str
    get: Access
    set: Access
    inf: Access
    data: DataType
    valid_from: str
    valid_to: str
    #: Class whose MRA file holds this entry (0x0000 for properties inherited from the superclass).
    defined_in: int
    remark_en: str = ""
    note_en: str = ""

    def __post_init__(self) -> None:
        if (
            isinstance(self.epc, bool)
            or not isinstance(self.epc, int)
            or not 0x80 <= self.epc <= 0xFF
        ):
            raise ValueError(f"EPC must be 0x80..0xFF, got {self.epc!r}")
        if not isinstance(self.short_name, str) or not self.short_name:
            raise ValueError(f"EPC 0x{self.epc:02X}: empty shortName")
        for rule in ("get", "set", "inf"):
            if not isinstance(getattr(self, rule), Access):
                raise ValueError(f"EPC 0x{self.epc:02X}: {rule} must be an Access")
        if not isinstance(self.data, DataType):
            raise ValueError(f"EPC 0x{self.epc:02X}: data must be a DataType")
        start = _release_index(self.valid_from, "valid_from")
        if self.valid_from == LATEST or start > _release_index(self.valid_to, "valid_to"):
            raise ValueError(
                f"EPC 0x{self.epc:02X}: bad release range {self.valid_from}..{self.valid_to}"
            )

    def valid_at(self, release: str) -> bool:
        """True if this entry applies at Appendix ``release`` (a letter or ``"latest"``)."""
        index = _release_index(release, "release")
        return _release_index(self.valid_from, "") <= index <= _release_index(self.valid_to, "")

    def _label(self) -> str:
        return f"EPC 0x{self.epc:02X} ({self.short_name})"

    def encode(self, value: object) -> bytes:
        """Python value -> EDT; :class:`EncodeError` names the EPC and the reason."""
        try:
            return self.data.encode(value)
        except EncodeError as exc:
            raise EncodeError(f"{self._label()}: {exc}") from exc

    def decode(self, edt: Buffer) -> object:
        """EDT -> Python value; :class:`DecodeError` names the EPC and the reason."""
        try:
            return self.data.decode(edt)
        except DecodeError as exc:
            raise DecodeError(f"{self._label()}: {exc}") from exc


@dataclass(frozen=True)
class ClassDef:
    """The property set of one class at one Appendix release (superclass merged in)."""

    class_id: int
    short_name: str
    name_ja: str
    name_en: str
    release: str
    properties: Mapping[int, PropertyDef] = field(hash=False)

    def __post_init__(self) -> None:
        frozen = MappingProxyType(dict(sorted(self.properties.items())))
        object.__setattr__(self, "properties", frozen)
        names: dict[str, int] = {}
        for epc, prop in frozen.items():
            if epc != prop.epc:
                raise ValueError(f"properties key 0x{epc:02X} holds EPC 0x{prop.epc:02X}")
            if prop.short_name in names:
                raise ValueError(
                    f"class 0x{self.class_id:04X}: shortName {prop.short_name!r} is used by "
                    f"EPC 0x{names[prop.short_name]:02X} and 0x{epc:02X}"
                )
            names[prop.short_name] = epc
        _release_index(self.release, "release")

    def __iter__(self) -> Iterator[PropertyDef]:
        return iter(self.properties.values())

    def by_name(self, short_name: str) -> PropertyDef:
        """The property with MRA shortName ``short_name`` (``KeyError`` if absent)."""
        for prop in self.properties.values():
            if prop.short_name == short_name:
                return prop
        raise KeyError(f"class 0x{self.class_id:04X} has no property {short_name!r}")

    def epcs(self, rule: Rule, *accesses: Access) -> frozenset[int]:
        """EPCs whose ``rule`` access is one of ``accesses``."""
        return frozenset(p.epc for p in self.properties.values() if getattr(p, rule) in accesses)

    def required_get(self) -> frozenset[int]:
        """EPCs that must answer Get (unconditionally required only)."""
        return self.epcs("get", Access.REQUIRED)

    def required_set(self) -> frozenset[int]:
        """EPCs that must accept Set (unconditionally required only)."""
        return self.epcs("set", Access.REQUIRED)

    def required_inf(self) -> frozenset[int]:
        """EPCs that must announce changes (INF; unconditionally required only)."""
        return self.epcs("inf", Access.REQUIRED)


# ---------------------------------------------------------------------------------------
# MRA JSON -> DataType
# ---------------------------------------------------------------------------------------

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
_PROPERTY_KEYS: Final = frozenset(
    {"epc", "validRelease", "propertyName", "shortName", "accessRule", "descriptions", "data"}
    | {"note", "remark"}
)
_CLASS_KEYS: Final = frozenset({"eoj", "validRelease", "className", "shortName", "elProperties"})


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MraDataError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _keys(value: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise MraDataError(f"{where}: unknown key(s) {unknown}")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MraDataError(f"{where}: expected an integer, got {value!r}")
    return value


def _opt_int(spec: Mapping[str, Any], key: str, where: str) -> int | None:
    return None if key not in spec else _int(spec[key], f"{where}.{key}")


def _code(value: Any, where: str) -> int:
    # MRA writes codes as text: "0x41", "0x00000000", bit masks as "0b00000001".
    if not isinstance(value, str) or value[:2] not in ("0x", "0b"):
        raise MraDataError(f"{where}: bad code {value!r} (expected a 0x/0b string)")
    try:
        return int(value, 0)
    except ValueError as exc:
        raise MraDataError(f"{where}: bad code {value!r}") from exc


def _text(value: Any, lang: str) -> str:
    if isinstance(value, Mapping) and isinstance(value.get(lang), str):
        return str(value[lang])
    return ""


def _states(entries: Any, where: str) -> tuple[StateValue, ...]:
    if not isinstance(entries, list):
        raise MraDataError(f"{where}: enum must be a list")
    values = []
    for i, raw in enumerate(entries):
        entry = _obj(raw, f"{where}[{i}]")
        _keys(entry, _STATE_KEYS, f"{where}[{i}]")
        name = entry.get("name")
        if not isinstance(name, str):
            raise MraDataError(f"{where}[{i}]: state name missing")
        code = entry.get("edt")
        first, last = (
            code.split("...", 1) if isinstance(code, str) and "..." in code else (code, None)
        )
        values.append(
            StateValue(
                edt=_code(first, f"{where}[{i}].edt"),
                last=None if last is None else _code(last, f"{where}[{i}].edt"),
                name=name,
                description_ja=_text(entry.get("descriptions"), "ja"),
                description_en=_text(entry.get("descriptions"), "en"),
                read_only=entry.get("readOnly") is True,
            )
        )
    return tuple(values)


def _resolve(spec: Mapping[str, Any], definitions: Mapping[str, Any], where: str) -> Any:
    ref = spec.get("$ref")
    if len(spec) != 1 or not isinstance(ref, str) or not ref.startswith(_REF_PREFIX):
        raise MraDataError(f"{where}: unsupported reference {dict(spec)!r}")
    name = ref.removeprefix(_REF_PREFIX)
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
    node = _obj(spec, where)
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
        _keys(node, frozenset({"oneOf"}), where)
        options = node["oneOf"]
        if not isinstance(options, list) or not options:
            raise MraDataError(f"{where}.oneOf: expected a non-empty list")
        return OneOfType(tuple(sub(o, f"{where}.oneOf[{i}]") for i, o in enumerate(options)))
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in _TYPE_KEYS:
        raise MraDataError(f"{where}: unknown data type {kind!r}")
    _keys(node, _TYPE_KEYS[kind], where)
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
            coefficient=tuple(_code(c, f"{where}.coefficient") for c in coefficient),
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
            base=_code(node.get("base", "0x00"), f"{where}.base"),
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
        entry = _obj(item, f"{where}[{i}]")
        _keys(entry, _ELEMENT_KEYS, f"{where}[{i}]")
        name = entry.get("shortName")
        if not isinstance(name, str):
            raise MraDataError(f"{where}[{i}]: element shortName missing")
        data = sub(entry.get("element"), f"{where}[{i}].element")
        label = entry.get("elementName")
        elements.append(ObjectElement(name, data, _text(label, "ja"), _text(label, "en")))
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
        entry = _obj(item, path)
        _keys(entry, _BITMAP_KEYS, path)
        position = _obj(entry.get("position"), f"{path}.position")
        _keys(position, frozenset({"index", "bitMask"}), f"{path}.position")
        value = _obj(entry.get("value"), f"{path}.value")
        if "$ref" in value:
            value = _obj(_resolve(value, definitions, f"{path}.value"), f"{path}.value")
        # Bit field values are "state" with size 0: the codes are the field's bits, not bytes.
        _keys(value, _TYPE_KEYS["state"], f"{path}.value")
        if value.get("type") != "state" or value.get("size") != 0:
            raise MraDataError(f"{path}.value: expected a size-0 state")
        name = entry.get("name")
        if not isinstance(name, str):
            raise MraDataError(f"{path}: bit field name missing")
        fields.append(
            BitField(
                name=name,
                index=_int(position.get("index"), f"{path}.position.index"),
                bit_mask=_code(position.get("bitMask"), f"{path}.position.bitMask"),
                values=_states(value.get("enum"), f"{path}.value.enum"),
                description_ja=_text(entry.get("descriptions"), "ja"),
                description_en=_text(entry.get("descriptions"), "en"),
            )
        )
    return tuple(fields)


# ---------------------------------------------------------------------------------------
# Class files
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClassFile:
    """One ``0x????.json`` file: class header plus every property entry of every release."""

    class_id: int
    short_name: str
    name_ja: str
    name_en: str
    valid_from: str
    valid_to: str
    entries: tuple[PropertyDef, ...]

    def valid_at(self, release: str) -> bool:
        index = _release_index(release, "release")
        return _release_index(self.valid_from, "") <= index <= _release_index(self.valid_to, "")


@functools.cache
def _definitions() -> Mapping[str, Any]:
    document = _obj(_read_json("definitions.json"), "definitions.json")
    return _obj(document.get("definitions"), "definitions.json: definitions")


def _release_range(value: Any, where: str) -> tuple[str, str]:
    span = _obj(value, f"{where}.validRelease")
    start, end = span.get("from"), span.get("to")
    if start not in RELEASES or (end != LATEST and end not in RELEASES):
        raise MraDataError(f"{where}: bad validRelease {dict(span)!r}")
    return str(start), str(end)


def _camel_case(text: str) -> str:
    words: list[str] = re.findall(r"[A-Za-z0-9]+", text)
    if not words:
        raise MraDataError(f"cannot derive a shortName from {text!r}")
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


# shortName MRA uses for properties the ECHONET Lite Web API omits (see module docstring).
_WEB_API_OMITTED: Final = "DEL"


def _parse_property(raw: Any, class_id: int, where: str) -> PropertyDef:
    entry = _obj(raw, where)
    _keys(entry, _PROPERTY_KEYS, where)
    epc = _code(entry.get("epc"), f"{where}.epc")
    where = f"{where} (EPC 0x{epc:02X})"
    valid_from, valid_to = _release_range(entry.get("validRelease"), where)
    names = _obj(entry.get("propertyName"), f"{where}.propertyName")
    short_name = entry.get("shortName")
    if not isinstance(short_name, str) or not short_name:
        raise MraDataError(f"{where}: shortName missing")
    if short_name == _WEB_API_OMITTED:
        short_name = _camel_case(_text(names, "en"))
    rules = _obj(entry.get("accessRule"), f"{where}.accessRule")
    _keys(rules, frozenset({"get", "set", "inf"}), f"{where}.accessRule")
    access: dict[str, Access] = {}
    for rule in ("get", "set", "inf"):
        try:
            access[rule] = Access(rules.get(rule))
        except ValueError as exc:
            raise MraDataError(f"{where}: unknown {rule} access {rules.get(rule)!r}") from exc
    data = data_type_from_mra(
        entry.get("data"), _definitions(), f"{where} {valid_from}..{valid_to} data"
    )
    try:
        return PropertyDef(
            epc=epc,
            short_name=short_name,
            name_ja=_text(names, "ja"),
            name_en=_text(names, "en"),
            get=access["get"],
            set=access["set"],
            inf=access["inf"],
            data=data,
            valid_from=valid_from,
            valid_to=valid_to,
            defined_in=class_id,
            remark_en=_text(entry.get("remark"), "en"),
            note_en=_text(entry.get("note"), "en"),
        )
    except ValueError as exc:
        raise MraDataError(f"{where}: {exc}") from exc


def _check_no_overlap(entries: tuple[PropertyDef, ...], where: str) -> None:
    by_epc: dict[int, list[PropertyDef]] = {}
    for prop in entries:
        by_epc.setdefault(prop.epc, []).append(prop)
    for epc, variants in by_epc.items():
        spans = sorted(
            (_release_index(p.valid_from, ""), _release_index(p.valid_to, "")) for p in variants
        )
        for (_, previous_end), (start, _) in itertools.pairwise(spans):
            if start <= previous_end:
                raise MraDataError(f"{where}: EPC 0x{epc:02X} has overlapping validRelease ranges")


@functools.cache
def _class_file(class_id: int) -> _ClassFile:
    name = f"0x{class_id:04X}.json"
    document = _obj(_read_json(name), name)
    _keys(document, _CLASS_KEYS, name)
    if _code(document.get("eoj"), f"{name}.eoj") != class_id:
        raise MraDataError(f"{name}: eoj {document.get('eoj')!r} does not match the file name")
    short_name = document.get("shortName")
    if not isinstance(short_name, str) or not short_name:
        raise MraDataError(f"{name}: shortName missing")
    raw_entries = document.get("elProperties")
    if not isinstance(raw_entries, list):
        raise MraDataError(f"{name}: elProperties must be a list")
    entries = tuple(
        _parse_property(raw, class_id, f"{name} elProperties[{i}]")
        for i, raw in enumerate(raw_entries)
    )
    _check_no_overlap(entries, name)
    valid_from, valid_to = _release_range(document.get("validRelease"), name)
    return _ClassFile(
        class_id=class_id,
        short_name=short_name,
        name_ja=_text(document.get("className"), "ja"),
        name_en=_text(document.get("className"), "en"),
        valid_from=valid_from,
        valid_to=valid_to,
        entries=entries,
    )


def _check_class_id(class_id: int) -> None:
    if isinstance(class_id, bool) or not isinstance(class_id, int) or not 0 <= class_id <= 0xFFFF:
        raise ValueError(f"class id must be 0x0000..0xFFFF, got {class_id!r}")


def _inherits_superclass(class_id: int) -> bool:
    # Profile classes (class group 0x0E, e.g. node profile 0x0EF0) have their own profile
    # superclass, already spelled out in their MRA file; the superclass does not inherit itself.
    return class_id != SUPERCLASS and class_id >> 8 != NODE_PROFILE >> 8


def available_classes() -> tuple[int, ...]:
    """Class codes with an MRA file in this package (superclass 0x0000 included)."""
    folder = resources.files(_PACKAGE) / _MRA_DIR
    names = (entry.name for entry in folder.iterdir())
    return tuple(sorted(int(n[:6], 16) for n in names if _CLASS_FILE.fullmatch(n)))


def property_variants(class_id: int) -> tuple[PropertyDef, ...]:
    """Every property entry of one class file, all releases, in file order (no merge)."""
    _check_class_id(class_id)
    return _class_file(class_id).entries


def load_class(class_id: int, release: str = MRA_RELEASE) -> ClassDef:
    """Properties of ``class_id`` valid at Appendix ``release`` (letter, or ``"latest"``).

    Device classes get the superclass 0x0000 merged in, their own entries taking precedence.
    Raises :class:`UnknownClassError` if there is no MRA file for the class or the class is
    not defined at ``release`` (e.g. hybrid water heater 0x02A6 before Release L).
    """
    _check_class_id(class_id)
    return _load_class(class_id, _normalize_release(release))


@functools.cache
def _load_class(class_id: int, release: str) -> ClassDef:
    own = _class_file(class_id)
    if not own.valid_at(release):
        raise UnknownClassError(
            f"class 0x{class_id:04X} ({own.short_name}) is defined from Release "
            f"{own.valid_from} to {own.valid_to}, not at Release {release}"
        )
    merged: dict[int, PropertyDef] = {}
    if _inherits_superclass(class_id):
        merged.update((p.epc, p) for p in _class_file(SUPERCLASS).entries if p.valid_at(release))
    merged.update((p.epc, p) for p in own.entries if p.valid_at(release))
    try:
        return ClassDef(
            class_id=class_id,
            short_name=own.short_name,
            name_ja=own.name_ja,
            name_en=own.name_en,
            release=release,
            properties=merged,
        )
    except ValueError as exc:
        raise MraDataError(str(exc)) from exc
