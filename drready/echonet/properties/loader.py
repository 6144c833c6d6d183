"""Loading a class's properties at a release from its MRA file (cached)."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from drready.echonet.properties.definitions import (
    CLASS_FILE,
    LATEST,
    MRA_DIR,
    MRA_RELEASE,
    NODE_PROFILE,
    PACKAGE,
    RELEASES,
    SUPERCLASS,
    Access,
    ClassDef,
    MraDataError,
    PropertyDef,
    UnknownClassError,
    normalize_release,
    read_mra_json,
    release_index,
)
from drready.echonet.properties.mra_types import (
    CLASS_KEYS,
    PROPERTY_KEYS,
    check_keys,
    data_type_from_mra,
    expect_object,
    in_language,
    parse_code,
)


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
        index = release_index(release, "release")
        return release_index(self.valid_from, "") <= index <= release_index(self.valid_to, "")


@functools.cache
def _definitions() -> Mapping[str, Any]:
    document = expect_object(read_mra_json("definitions.json"), "definitions.json")
    return expect_object(document.get("definitions"), "definitions.json: definitions")


def _release_range(value: Any, where: str) -> tuple[str, str]:
    span = expect_object(value, f"{where}.validRelease")
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
    entry = expect_object(raw, where)
    check_keys(entry, PROPERTY_KEYS, where)
    epc = parse_code(entry.get("epc"), f"{where}.epc")
    where = f"{where} (EPC 0x{epc:02X})"
    valid_from, valid_to = _release_range(entry.get("validRelease"), where)
    names = expect_object(entry.get("propertyName"), f"{where}.propertyName")
    short_name = entry.get("shortName")
    if not isinstance(short_name, str) or not short_name:
        raise MraDataError(f"{where}: shortName missing")
    if short_name == _WEB_API_OMITTED:
        short_name = _camel_case(in_language(names, "en"))
    rules = expect_object(entry.get("accessRule"), f"{where}.accessRule")
    check_keys(rules, frozenset({"get", "set", "inf"}), f"{where}.accessRule")
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
            name_ja=in_language(names, "ja"),
            name_en=in_language(names, "en"),
            get=access["get"],
            set=access["set"],
            inf=access["inf"],
            data=data,
            valid_from=valid_from,
            valid_to=valid_to,
            defined_in=class_id,
            remark_en=in_language(entry.get("remark"), "en"),
            note_en=in_language(entry.get("note"), "en"),
        )
    except ValueError as exc:
        raise MraDataError(f"{where}: {exc}") from exc


def _check_no_overlap(entries: tuple[PropertyDef, ...], where: str) -> None:
    by_epc: dict[int, list[PropertyDef]] = {}
    for prop in entries:
        by_epc.setdefault(prop.epc, []).append(prop)
    for epc, variants in by_epc.items():
        spans = sorted(
            (release_index(p.valid_from, ""), release_index(p.valid_to, "")) for p in variants
        )
        for (_, previous_end), (start, _) in itertools.pairwise(spans):
            if start <= previous_end:
                raise MraDataError(f"{where}: EPC 0x{epc:02X} has overlapping validRelease ranges")


@functools.cache
def _class_file(class_id: int) -> _ClassFile:
    name = f"0x{class_id:04X}.json"
    document = expect_object(read_mra_json(name), name)
    check_keys(document, CLASS_KEYS, name)
    if parse_code(document.get("eoj"), f"{name}.eoj") != class_id:
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
        name_ja=in_language(document.get("className"), "ja"),
        name_en=in_language(document.get("className"), "en"),
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
    folder = resources.files(PACKAGE) / MRA_DIR
    names = (entry.name for entry in folder.iterdir())
    return tuple(sorted(int(n[:6], 16) for n in names if CLASS_FILE.fullmatch(n)))


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
    return _load_class(class_id, normalize_release(release))


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
