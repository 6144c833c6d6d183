"""OpenADR 3 documents: the JSON Schemas both sides are held to, and the payload names drready uses.

The schemas (``drready/openadr/schemas/openadr3.<object>.schema.json``, JSON Schema 2020-12) follow
OpenADR 3.1.0 (the OpenAPI ``openadr3.yaml``, ``Definition.md`` and its ``enumerations/``). Each
object file holds the served form at its root and the client's request form in ``$defs``; the
names used here are the specification's component names (``event``, ``eventRequest``, ...).
Documents may carry properties the specification does not name (Definition.md, "Model
Extension"), so unknown properties are accepted; everything the specification does name is held
to its type, pattern and required fields, and enumerated payload types to the kind of values their
enumeration defines.

Payload types (Definition.md, "Enumerations", and its "Private Strings": parties may agree on
names of their own, which VTNs pass through untouched). Private names here start with
``DRREADY_`` so that they cannot meet a future enumerated name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

# The stubs (types-jsonschema) may or may not be installed; either way these lines are clean.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry, Resource  # type: ignore[import-not-found, unused-ignore]

#: Where the schema files' ``$id`` live (never fetched: every file is in the package).
SCHEMA_BASE = "https://drready.invalid/schemas/"
#: The specification release the schemas and the servicer follow.
SPEC_VERSION = "3.1.0"

# -- payload types -------------------------------------------------------------------------------
#: Event payload: a power setpoint. Definition.md: "The absolute amount of consumption by a
#: resource", units from the eventPayloadDescriptor. drready sends it in ``KW`` (Table 9 has no W)
#: signed as consumption: + charges a battery, - discharges it. The enumerations file gives it
#: ``minimum: 0``, which would leave no way to ask for a discharge; that bound is not enforced here.
DISPATCH_SETPOINT = "DISPATCH_SETPOINT"
#: Event payload (private): when a water heater is to start heating, one time of day ``"HH:MM"`` on
#: the device's own local clock (the clock its heating plan runs on, whose UTC offset the servicer
#: need not know). The interval's own start is when the request applies.
HEATING_START_TIME = "DRREADY_HEATING_START_TIME"
#: Report payloads (Definition.md, report enumerations): energy used over an interval (KWH) and
#: real power over it (KW).
USAGE = "USAGE"
DEMAND = "DEMAND"
#: Storage state of charge, 0.0 (empty) to 1.0 (full), units ``PERCENT`` (Definition.md, Table 9
#: represents percentages as 0.0-1.0; the enumerations file bounds it so).
STORAGE_CHARGE_LEVEL = "STORAGE_CHARGE_LEVEL"
#: Largest sustainable discharge (injection) and charge (load) power, KW.
STORAGE_MAX_DISCHARGE_POWER = "STORAGE_MAX_DISCHARGE_POWER"
STORAGE_MAX_CHARGE_POWER = "STORAGE_MAX_CHARGE_POWER"
#: Report payload (private): the DR-possible amount (DRready HP-2.1/HY-2.1), energy in KWH, >= 0.
DR_POSSIBLE_ENERGY = "DRREADY_DR_POSSIBLE_ENERGY"

#: Units (Definition.md, Table 9) drready writes in payload descriptors.
UNITS_KW = "KW"
UNITS_KWH = "KWH"
UNITS_PERCENT = "PERCENT"

#: Schema name -> (file's object name, pointer inside the file).
_SCHEMAS: dict[str, tuple[str, str]] = {
    "program": ("program", ""),
    "programRequest": ("program", "/$defs/programRequest"),
    "event": ("event", ""),
    "eventRequest": ("event", "/$defs/eventRequest"),
    "report": ("report", ""),
    "reportRequest": ("report", "/$defs/reportRequest"),
    "subscription": ("subscription", ""),
    "subscriptionRequest": ("subscription", "/$defs/subscriptionRequest"),
    "ven": ("ven", ""),
    "venRequest": ("ven", "/$defs/venRequest"),
    "notification": ("notification", ""),
    "token": ("token", ""),
    "clientCredentialRequest": ("token", "/$defs/clientCredentialRequest"),
    "authError": ("token", "/$defs/authError"),
    "problem": ("problem", ""),
    "valuesMap": ("common", "/$defs/valuesMap"),
    "reportPayloadDescriptor": ("common", "/$defs/reportPayloadDescriptor"),
}
SCHEMA_NAMES = tuple(_SCHEMAS)
_FILES = (
    "common",
    "program",
    "event",
    "report",
    "subscription",
    "ven",
    "notification",
    "token",
    "problem",
)


class OpenAdrError(Exception):
    """Base of the OpenADR 3 servicer and VEN errors."""


class SchemaViolation(OpenAdrError, ValueError):
    """A document that its schema rejects: ``errors`` are one line each, pointing into it."""

    def __init__(self, schema: str, document: Any, errors: list[str]) -> None:
        self.schema = schema
        self.document = document
        self.errors = errors
        shown = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
        super().__init__(f"not a valid OpenADR 3 {schema}: {shown}")


def schema_file_name(object_name: str) -> str:
    return f"openadr3.{object_name}.schema.json"


@cache
def load_schema(object_name: str) -> dict[str, Any]:
    """The parsed schema file of one object (``event``, ``common``, ...)."""
    if object_name not in _FILES:
        raise KeyError(f"no OpenADR 3 schema file for {object_name!r}")
    text = (
        files("drready.openadr")
        .joinpath("schemas", schema_file_name(object_name))
        .read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _registry() -> Any:
    resources = [
        (SCHEMA_BASE + schema_file_name(name), Resource.from_contents(load_schema(name)))
        for name in _FILES
    ]
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Any:
    """The (cached) Draft 2020-12 validator of one schema name (see :data:`SCHEMA_NAMES`)."""
    try:
        object_name, pointer = _SCHEMAS[name]
    except KeyError:
        raise KeyError(f"unknown OpenADR 3 schema {name!r}; known: {', '.join(_SCHEMAS)}") from None
    ref = SCHEMA_BASE + schema_file_name(object_name) + ("#" + pointer if pointer else "")
    return Draft202012Validator({"$ref": ref}, registry=_registry())


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _where(path: Iterator[Any] | Any) -> str:
    where = "$"
    for part in path:
        if isinstance(part, int):
            where += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            where += f".{part}"
        else:
            where += f"[{json.dumps(part)}]"
    return where


def _leaves(error: Any) -> Iterator[Any]:
    # anyOf/oneOf/allOf failures say "is not valid under any of the given schemas"; the errors
    # under them say which field and why, which is what a finding must show.
    if error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


#: A payload every valuesMap rule lets through at once (a private type with one value).
_STUB_PAYLOAD = {"type": "DRREADY_SCHEMA_STUB", "values": [0]}


def _item_lists(
    name: str, document: Any
) -> list[tuple[tuple[Any, ...], list[Any], str, list[Any]]] | None:
    """Where a report's repeated parts are (path, items, their schema, the stub list that
    stands for them in the skeleton), if it has the usual shape; else None."""
    if name not in ("reportRequest", "report") or not isinstance(document, dict):
        return None
    found: list[tuple[tuple[Any, ...], list[Any], str, list[Any]]] = []
    descriptors = document.get("payloadDescriptors")
    if isinstance(descriptors, list) and descriptors:
        found.append((("payloadDescriptors",), descriptors, "reportPayloadDescriptor", []))
    resources = document.get("resources")
    if not isinstance(resources, list):
        return None
    for r, resource in enumerate(resources):
        intervals = resource.get("intervals") if isinstance(resource, dict) else None
        if not isinstance(intervals, list):
            return None
        for i, interval in enumerate(intervals):
            payloads = interval.get("payloads") if isinstance(interval, dict) else None
            if not isinstance(payloads, list) or not payloads:
                return None
            path = ("resources", r, "intervals", i, "payloads")
            found.append((path, payloads, "valuesMap", [dict(_STUB_PAYLOAD)]))
    return found


@lru_cache(maxsize=8192)
def _item_errors(schema: str, text: str) -> tuple[tuple[tuple[Any, ...], str, Any], ...]:
    """One item's errors as (path, message, error), cached by the item's JSON text: a VEN
    sends the same payloads (a mode, a rating) and descriptors report after report."""
    return tuple(
        (tuple(leaf.absolute_path), leaf.message, leaf)
        for error in validator(schema).iter_errors(json.loads(text))
        for leaf in (_leaves(error) if error.validator in ("anyOf", "oneOf") else [error])
    )


def errors(name: str, document: Any) -> list[str]:
    """Every reason ``document`` is not a valid ``name``, one line each (empty when valid).

    A report is checked in parts with the same outcome: its skeleton (each payload list cut
    down to one stub payload, the descriptors taken out), then each payload and descriptor on
    its own, from a cache. Reports are the bulk of a run's documents and their parts repeat;
    this keeps validation off the top of a simulated run's profile."""
    lists = _item_lists(name, document)
    if lists is not None:
        skeleton = json.loads(json.dumps(document))
        for path, _items, _schema, stub in lists:
            target = skeleton
            for part in path:
                target = target[part]
            target[:] = stub
        found = _errors(name, skeleton)
        for path, items, schema, _stub in lists:
            for k, item in enumerate(items):
                text = json.dumps(item, sort_keys=True)
                for where, message, leaf in _item_errors(schema, text):
                    found.append(_line((*path, k, *where), message, leaf))
        return sorted(dict.fromkeys(found))
    return _errors(name, document)


def _line(path: Any, message: str, leaf: Any) -> str:
    if leaf.validator == "pattern" and isinstance(leaf.schema, dict):
        # The regular expression says less to a reader than what it stands for.
        message = f"{leaf.instance!r} is not {leaf.schema.get('title', message)}"
    return f"{_where(path)}: {message}"


def _errors(name: str, document: Any) -> list[str]:
    found: list[str] = []
    for error in validator(name).iter_errors(document):
        for leaf in _leaves(error) if error.validator in ("anyOf", "oneOf") else [error]:
            line = _line(leaf.absolute_path, leaf.message, leaf)
            if line not in found:
                found.append(line)
    return sorted(found)


def validate(name: str, document: Any) -> None:
    """Raise :class:`SchemaViolation` unless ``document`` is a valid ``name``."""
    found = errors(name, document)
    if found:
        raise SchemaViolation(name, document, found)


def is_valid(name: str, document: Any) -> bool:
    return bool(validator(name).is_valid(document))
