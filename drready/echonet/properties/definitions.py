"""What the MRA says about a class and its properties: releases, access rules,
:class:`PropertyDef` and :class:`ClassDef`; and reading the shipped MRA JSON files."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, Literal

from drready.echonet.datatypes import (
    Buffer,
    DataType,
)
from drready.echonet.errors import DecodeError, EncodeError

#: Appendix releases in order. There is no Release "O" (the Appendix went N -> P).
RELEASES: Final[tuple[str, ...]] = (*"ABCDEFGHIJKLMN", "P", "Q", "R")


#: MRA's open upper bound of ``validRelease``.
LATEST: Final = "latest"


#: Device object superclass and node profile class codes (ECHONET Lite Spec. Part 2).
SUPERCLASS: Final = 0x0000


NODE_PROFILE: Final = 0x0EF0


PACKAGE: Final = "drready.echonet"


MRA_DIR: Final = "mra"


CLASS_FILE = re.compile(r"0x[0-9A-F]{4}\.json")


REF_PREFIX: Final = "#/definitions/"


Rule = Literal["get", "set", "inf"]


class MraDataError(ValueError):
    """The shipped MRA JSON is inconsistent or uses something this loader does not know."""


class UnknownClassError(LookupError):
    """No MRA file for the class, or the class does not exist at the requested release."""


def read_mra_json(name: str) -> Any:
    resource = resources.files(PACKAGE) / MRA_DIR / name
    try:
        return json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UnknownClassError(f"no MRA file {name}") from exc
    except json.JSONDecodeError as exc:
        raise MraDataError(f"{name}: not valid JSON: {exc}") from exc


def _meta() -> tuple[str, str]:
    document = read_mra_json("metaData.json")
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


def release_index(release: str, what: str) -> int:
    if release == LATEST:
        return len(RELEASES) - 1
    if release not in RELEASES:
        raise ValueError(f"{what}: {release!r} is not an Appendix release ({''.join(RELEASES)})")
    return RELEASES.index(release)


def normalize_release(release: str) -> str:
    return RELEASES[release_index(release, "release")]


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
        start = release_index(self.valid_from, "valid_from")
        if self.valid_from == LATEST or start > release_index(self.valid_to, "valid_to"):
            raise ValueError(
                f"EPC 0x{self.epc:02X}: bad release range {self.valid_from}..{self.valid_to}"
            )

    def valid_at(self, release: str) -> bool:
        """True if this entry applies at Appendix ``release`` (a letter or ``"latest"``)."""
        index = release_index(release, "release")
        return release_index(self.valid_from, "") <= index <= release_index(self.valid_to, "")

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
        release_index(self.release, "release")

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
