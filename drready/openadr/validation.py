"""OpenADR 3 documents: the JSON Schemas both sides are held to, and the payload names drready uses.

The schemas are the official ones: :mod:`drready.openadr.openapi` derives them from the OpenAPI
document and enumerations of each supported release (``drready/openadr/spec/<version>/``,
shipped verbatim with their Apache-2.0 ``LICENSE`` and ``NOTICE``), once per process; each
(release, schema name) gets one compiled validator, reused for every document. Schema names are
the specification's component names: ``eventRequest`` is what a client sends, ``event`` what a
VTN serves (see :data:`SCHEMA_NAMES`). Documents may carry properties the specification does
not name (the OpenAPI document closes no object; Definition.md, "Model Extension").

Payload types (Definition.md, "Enumerations", and its "Private Strings": parties may agree on
names of their own, which VTNs pass through untouched). Private names here start with
``DRREADY_`` so that they cannot meet a future enumerated name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

import jsonschema_rs

# The stubs (types-jsonschema) may or may not be installed; either way these lines are clean.
from jsonschema import FormatChecker  # type: ignore[import-untyped, unused-ignore]
from jsonschema.validators import validator_for  # type: ignore[import-untyped, unused-ignore]
from referencing import Registry, Resource  # type: ignore[import-not-found, unused-ignore]

from drready.openadr.openapi import derive

#: The releases whose schemas drready ships (a profile's ``openadr3.version`` picks one).
SPEC_VERSIONS = ("3.1.0", "3.1.1")
#: The release a profile gets unless it says otherwise.
DEFAULT_VERSION = "3.1.0"

# -- payload types -------------------------------------------------------------------------------
#: Event payload: a power setpoint. Definition.md: "The absolute amount of consumption by a
#: resource", units from the eventPayloadDescriptor; its enumeration has ``minimum: 0``, so it
#: cannot ask a battery to discharge.
DISPATCH_SETPOINT = "DISPATCH_SETPOINT"
#: Event payload (private): a signed power setpoint, ``KW``, + consumption (charging a battery),
#: - discharging it. What drready's servicer sends (:data:`drready.openadr.vocab.SETPOINT`).
POWER_SETPOINT = "DRREADY_POWER_SETPOINT"
#: Event payload (private): when a water heater is to start heating, one time of day ``"HH:MM"`` on
#: the device's own local clock (the clock its heating plan runs on, whose UTC offset the servicer
#: need not know). The interval's own start is when the request applies.
HEATING_START_TIME = "DRREADY_HEATING_START_TIME"
#: Report payloads (Definition.md, report enumerations): energy used over an interval (KWH) and
#: real power over it (KW), both ``minimum: 0``.
USAGE = "USAGE"
DEMAND = "DEMAND"
#: Report payload (private): real power over the interval, ``KW``, + consumption, - export (a
#: discharging battery). What drready's VEN reports (:data:`drready.openadr.vocab.DEMAND`).
NET_DEMAND = "DRREADY_NET_DEMAND"
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

#: Schema name -> the component (``$defs`` entry) of the derived document. The names are the
#: specification's, except ``token`` (its clientCredentialResponse) and the parts a report is
#: checked in (``reportPayload``: a valuesMap with the report enumerations applied).
_SCHEMAS: dict[str, str] = {
    "program": "program",
    "programRequest": "programRequest",
    "event": "event",
    "eventRequest": "eventRequest",
    "report": "report",
    "reportRequest": "reportRequest",
    "subscription": "subscription",
    "subscriptionRequest": "subscriptionRequest",
    "ven": "ven",
    "venRequest": "venRequest",
    "resource": "resource",
    "resourceRequest": "resourceRequest",
    "notification": "notification",
    "token": "clientCredentialResponse",
    "clientCredentialRequest": "clientCredentialRequest",
    "authError": "authError",
    "authServerInfo": "authServerInfo",
    "notifiersResponse": "notifiersResponse",
    "problem": "problem",
    "valuesMap": "valuesMap",
    "eventPayload": "eventPayload",
    "reportPayload": "reportPayload",
    "reportPayloadDescriptor": "reportPayloadDescriptor",
}
SCHEMA_NAMES = tuple(_SCHEMAS)

#: What a pattern stands for, for a reader (the schema's own text is the regular expression).
_PATTERN_MEANING = {
    "^[a-zA-Z0-9_-]*$": "a URL-safe object ID (letters, digits, '_' and '-')",
}
_DURATION_MEANING = "an ISO 8601 duration, e.g. PT30M"


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


def check_version(version: str) -> str:
    """``version`` if drready ships its schemas; else KeyError naming the ones it has."""
    if version not in SPEC_VERSIONS:
        raise KeyError(
            f"no OpenADR 3 schemas for release {version!r}; known: {', '.join(SPEC_VERSIONS)}"
        )
    return version


@cache
def spec(version: str) -> dict[str, Any]:
    """The transcoded specification files of one release (``spec/<version>/spec.json``)."""
    text = (
        files("drready.openadr")
        .joinpath("spec", check_version(version), "spec.json")
        .read_text("utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def schema_document(version: str = DEFAULT_VERSION) -> dict[str, Any]:
    """The JSON Schema document derived from one release (every schema in its ``$defs``)."""
    return derive(spec(version), version)


# RFC 3339 section 5.6 date-time (offset required). intervalPeriod's own description lets
# "0001-01-01" and "0001-01-01T00:00:00" stand for "now" (User Guide), so those two pass too.
_DATE_TIME = re.compile(
    r"^(?:[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    r":(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
    r"|0001-01-01(?:T00:00:00)?)$"
)
# RFC 3986 section 4.3 absolute URI (with a fragment allowed): a scheme, then only the
# characters a URI may hold, percent-escapes well formed.
_URI = re.compile(
    r"^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*$"
)


def _date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME.match(instance):
        return False
    if instance.startswith("0001-01-01") and len(instance) <= 19:
        return True
    try:  # the calendar: 2027-02-30 matches the pattern
        datetime.fromisoformat(instance[:10])
    except ValueError:
        return False
    return True


def _uri(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_URI.match(instance))


#: The formats the document uses, checked the same whatever optional packages are installed
#: (jsonschema's own checkers for these need rfc3339-validator and rfc3987).
FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(_date_time)
FORMATS.checks("uri")(_uri)


@cache
def _registry(version: str) -> tuple[Any, str]:
    derived = schema_document(version)
    return Registry().with_resource(derived["$id"], Resource.from_contents(derived)), derived["$id"]


@cache
def validator(name: str, version: str = DEFAULT_VERSION) -> Any:
    """The (cached, compiled once) validator of one schema name of one release."""
    try:
        component = _SCHEMAS[name]
    except KeyError:
        raise KeyError(f"unknown OpenADR 3 schema {name!r}; known: {', '.join(_SCHEMAS)}") from None
    registry, base = _registry(check_version(version))
    cls = validator_for(schema_document(version))
    return cls({"$ref": f"{base}#/$defs/{component}"}, registry=registry, format_checker=FORMATS)


@cache
def _compiled(name: str, version: str) -> Any:
    """The same schema compiled by jsonschema-rs, with the same two format checks: it answers
    "valid" in microseconds, where :func:`validator` takes most of a millisecond a document.
    Only a document it refuses goes to :func:`validator`, which decides and explains (a test
    holds the two equal on every one-value mutant of a valid document of each schema)."""
    component = _SCHEMAS[name]
    document = schema_document(check_version(version))
    return jsonschema_rs.validator_for(
        {**document, "$ref": f"#/$defs/{component}"},
        formats={"date-time": _date_time, "uri": _uri},
        validate_formats=True,
    )


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
            found.append((path, payloads, "reportPayload", [dict(_STUB_PAYLOAD)]))
    return found


@lru_cache(maxsize=8192)
def _item_errors(
    schema: str, version: str, text: str
) -> tuple[tuple[tuple[Any, ...], str, Any], ...]:
    """One item's errors as (path, message, error), cached by the item's JSON text: a VEN
    sends the same payloads (a mode, a rating) and descriptors report after report."""
    return tuple(
        (tuple(leaf.absolute_path), leaf.message, leaf)
        for error in validator(schema, version).iter_errors(json.loads(text))
        for leaf in (_leaves(error) if error.validator in ("anyOf", "oneOf") else [error])
    )


def errors(name: str, document: Any, version: str = DEFAULT_VERSION) -> list[str]:
    """Every reason ``document`` is not a valid ``name``, one line each (empty when valid).

    A report is checked in parts with the same outcome: its skeleton (each payload list cut
    down to one stub payload, the descriptors taken out), then each payload and descriptor on
    its own, from a cache. Reports are the bulk of a run's documents and their parts repeat;
    this keeps validation off the top of a simulated run's profile."""
    if name not in _SCHEMAS:  # the KeyError that names the known ones
        validator(name, version)
    if _compiled(name, version).is_valid(document):
        return []
    lists = _item_lists(name, document)
    if lists is not None:
        skeleton = json.loads(json.dumps(document))
        for path, _items, _schema, stub in lists:
            target = skeleton
            for part in path:
                target = target[part]
            target[:] = stub
        found = _errors(name, skeleton, version)
        for path, items, schema, _stub in lists:
            for k, item in enumerate(items):
                text = json.dumps(item, sort_keys=True)
                for where, message, leaf in _item_errors(schema, version, text):
                    found.append(_line((*path, k, *where), message, leaf))
        return sorted(dict.fromkeys(found))
    return _errors(name, document, version)


def _line(path: Any, message: str, leaf: Any) -> str:
    if leaf.validator == "pattern" and isinstance(leaf.schema, dict):
        # The regular expression says less to a reader than what it stands for.
        pattern = leaf.schema.get("pattern", "")
        meaning = _PATTERN_MEANING.get(pattern) or (
            _DURATION_MEANING if "P(?=" in pattern else None
        )
        if meaning:
            message = f"{leaf.instance!r} is not {meaning}"
    return f"{_where(path)}: {message}"


def _errors(name: str, document: Any, version: str) -> list[str]:
    found: list[str] = []
    for error in validator(name, version).iter_errors(document):
        for leaf in _leaves(error) if error.validator in ("anyOf", "oneOf") else [error]:
            line = _line(leaf.absolute_path, leaf.message, leaf)
            if line not in found:
                found.append(line)
    return sorted(found)


def validate(name: str, document: Any, version: str = DEFAULT_VERSION) -> None:
    """Raise :class:`SchemaViolation` unless ``document`` is a valid ``name``."""
    found = errors(name, document, version)
    if found:
        raise SchemaViolation(name, document, found)


def is_valid(name: str, document: Any, version: str = DEFAULT_VERSION) -> bool:
    return not errors(name, document, version)
