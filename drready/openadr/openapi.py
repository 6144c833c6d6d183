"""JSON Schemas derived from the official OpenADR 3 OpenAPI document and its enumerations.

The specification files ship verbatim in ``drready/openadr/spec/<version>/`` (``openadr3.yaml``
and ``enumerations/*.schema.yaml``, Apache-2.0, with ``LICENSE`` and ``NOTICE`` beside them).
YAML is read at build time only: :func:`transcode` turns a version's files into
``spec/<version>/spec.json`` (the same data as JSON, nothing interpreted; a test re-transcodes
the YAML and compares), and :func:`derive` turns that into one JSON Schema 2020-12 document at
import time. The derivation is mechanical:

- ``$ref: '#/components/schemas/X'`` becomes ``#/$defs/X``; every component keeps its name.
- OpenAPI 3.0 ``nullable: true`` becomes a type union with ``"null"`` (and ``None`` in an enum);
  the boolean ``exclusiveMaximum``/``exclusiveMinimum`` become the number form; ``format: int32``
  adds the int32 bounds; ``example``, ``discriminator`` (its ``anyOf``/``oneOf`` already say
  everything) and the enumeration files' per-definition ``$id``/``$comment`` are dropped.
- A keyword the converter does not know (``readOnly``, ``writeOnly``, ``not``, ...; 3.1.0 uses
  none) stops the derivation: a later release using one gets a look, not a silent misreading.
  Request and response forms are the document's own: ``programRequest`` is what a client
  sends, ``program`` (``objectMetadata`` + ``programRequest``) what a VTN serves.
- One erratum (:data:`ERRATA`): the served ``ven`` and ``resource`` ask for two objectType
  values at once; the request's discriminator is left out of them.
- Enumerations: ``valuesMap.type`` is an open string in the OpenAPI document ("See enumerations
  in Definitions for defined string values, or use privately defined strings"). A valuesMap
  whose type *is* an enumerated name must carry values as its enumeration defines them; other
  names are private strings and pass. Which enumeration applies depends on where the valuesMap
  sits: event interval payloads, report interval payloads, program attributes, VEN and resource
  attributes (``eventPayload``, ``reportPayload``, ... below). ``units`` and ``readingType``
  stay open strings, as the OpenAPI document leaves them (Definition.md lets parties use private
  strings for enumerated values). The enumerations' ``oneOf: [number, integer, ...]`` (any
  value of CONTROL_SETPOINT, BASELINE, ...) would refuse every integer, which matches both
  branches; it is read as the ``anyOf`` it means, as the OpenAPI valuesMap writes it.
  The program-attributes file defines one value (``COUNTRY``: a string) where the others define
  the ``values`` array; such a definition holds each value. One enumerated type stays
  unsatisfiable: ``CURVE`` (event payload) wants its values to be
  arrays of points, which the OpenAPI valuesMap's ``values`` items cannot be. drready never
  sends it, and a VEN never sends event payloads, so it is left as the documents say.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The JSON Schema dialect of the derived documents.
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The enumeration files: file stem -> the name of the derived check of a valuesMap's values.
ENUMERATIONS = {
    "event-interval-payloads": "eventPayloadValues",
    "report-payloads": "reportPayloadValues",
    "program-attributes": "programAttributeValues",
    "ven-resource-attributes": "venResourceAttributeValues",
}
#: Enumeration files that hold no valuesMap definitions (allowed units and reading types).
OPEN_ENUMERATIONS = ("units", "reading-types")

_INT32 = (-(2**31), 2**31 - 1)
#: Keywords copied as they are (after their subschemas are converted).
_PLAIN = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
        "description",
        "default",
        "title",
        "format",
        "uniqueItems",
    }
)
_SUBSCHEMA = frozenset({"items", "additionalProperties"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_DROPPED = frozenset({"example", "discriminator", "$id", "$comment"})


class DerivationError(ValueError):
    """The specification document uses something the converter does not know."""


def _ref(target: str, where: str) -> str:
    for prefix in ("#/components/schemas/",):
        if target.startswith(prefix):
            return "#/$defs/" + target[len(prefix) :]
    raise DerivationError(f"{where}: unsupported $ref {target!r}")


def convert(schema: Any, where: str = "$") -> Any:
    """One OpenAPI 3.0 Schema Object as JSON Schema 2020-12 (see the module docstring)."""
    if not isinstance(schema, Mapping):
        raise DerivationError(f"{where}: a schema must be an object, not {schema!r}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key == "$ref":
            out["$ref"] = _ref(value, where)
        elif key == "properties":
            out["properties"] = {
                name: convert(sub, f"{where}.properties.{name}") for name, sub in value.items()
            }
        elif key in _SUBSCHEMA:
            out[key] = value if isinstance(value, bool) else convert(value, f"{where}.{key}")
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [convert(sub, f"{where}.{key}[{i}]") for i, sub in enumerate(value)]
        elif key in ("exclusiveMaximum", "exclusiveMinimum"):
            continue  # folded in below
        elif key == "nullable":
            if not isinstance(value, bool):
                raise DerivationError(f"{where}: nullable must be a boolean")
        elif key in _PLAIN:
            out[key] = copy.deepcopy(value)
        else:
            raise DerivationError(f"{where}: unsupported keyword {key!r}")
    for exclusive, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        flag = schema.get(exclusive)
        if flag is True:
            if bound not in out:
                raise DerivationError(f"{where}: {exclusive} without {bound}")
            out[exclusive] = out.pop(bound)
        elif flag not in (None, False):
            raise DerivationError(f"{where}: {exclusive} must be a boolean in OpenAPI 3.0")
    if out.get("format") == "int32":
        out.setdefault("minimum", _INT32[0])
        out.setdefault("maximum", _INT32[1])
    if schema.get("nullable") is True:
        _nullable(out, where)
    if "oneOf" in out:
        out["oneOf"] = _disjoint(out["oneOf"])
    return out


def _nullable(out: dict[str, Any], where: str) -> None:
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif "$ref" in out:
        # A null next to a reference: the referenced schema or null.
        out["anyOf"] = [{"$ref": out.pop("$ref")}, {"type": "null"}]
    else:
        raise DerivationError(f"{where}: nullable without a type")
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]


def _disjoint(branches: list[Any]) -> list[Any]:
    """``oneOf`` branches with ``type: integer`` dropped where ``type: number`` is also a branch:
    an integer matches both, so the pair would refuse every integer the list means to allow."""
    plain = [b for b in branches if isinstance(b, dict)]
    if {"type": "number"} in plain and {"type": "integer"} in plain:
        return [b for b in branches if b != {"type": "integer"}]
    return branches


def _grouped_values(definitions: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A valuesMap check: each enumerated type's ``values`` held to its definition. Types with
    the same definition share one clause, which keeps the check to a few dozen keyword
    evaluations per payload (a run validates thousands)."""
    groups: dict[str, tuple[list[str], Any]] = {}
    for name, definition in sorted(definitions.items()):
        values = convert(definition, f"{where}.{name}")
        values.pop("description", None)
        if values.get("type") != "array":
            # The program attributes define one value (type: string, boolean), the other files
            # the whole ``values`` array: a definition of one value holds each of them.
            values = {"items": values}
        key = json.dumps(values, sort_keys=True)
        groups.setdefault(key, ([], values))[0].append(name)
    clauses: list[dict[str, Any]] = []
    for names, values in groups.values():
        test = {"const": names[0]} if len(names) == 1 else {"enum": names}
        clauses.append(
            {
                "if": {"required": ["type"], "properties": {"type": test}},
                "then": {"properties": {"values": values}},
            }
        )
    return {"allOf": clauses}


def _checked_map(values_check: str) -> dict[str, Any]:
    return {"allOf": [{"$ref": "#/$defs/valuesMap"}, {"$ref": f"#/$defs/{values_check}"}]}


def _interval_with(defs: dict[str, Any], payload: str) -> dict[str, Any]:
    interval: dict[str, Any] = copy.deepcopy(defs["interval"])
    interval["properties"]["payloads"]["items"] = {"$ref": f"#/$defs/{payload}"}
    return interval


def _retarget(
    schema: dict[str, Any], path: tuple[str, ...], ref: str | dict[str, Any], expected: str
) -> None:
    """Point the ``$ref`` at ``path`` inside ``schema`` (which must say ``expected``) at ``ref``."""
    node: Any = schema
    for part in path:
        node = node[part]
    if node.get("$ref") != expected:
        raise DerivationError(f"expected {expected} at {'/'.join(path)}, found {node}")
    node.clear()
    node.update(ref if isinstance(ref, dict) else {"$ref": ref})


#: Served form -> the request schema it includes whose ``objectType`` it cannot satisfy. The
#: document's ``ven`` is ``allOf: [objectMetadata, BlVenRequest]``: objectMetadata asks for
#: objectType ``VEN`` (one of objectTypes), BlVenRequest for ``BL_VEN_REQUEST``, so no document
#: is a valid ven; the same for ``resource``. The request's objectType is a discriminator of the
#: request forms (Bl vs Ven); in the served form the object's own type is objectMetadata's.
ERRATA = {"ven": "BlVenRequest", "resource": "BlResourceRequest"}


def _drop_request_discriminator(defs: dict[str, Any], served: str, request: str) -> None:
    parts = defs[served]["allOf"]
    index = parts.index({"$ref": f"#/$defs/{request}"})
    body = copy.deepcopy(defs[request])
    if body["properties"].pop("objectType", None) is None:
        raise DerivationError(f"{request} has no objectType: the erratum for {served} is stale")
    body["required"] = [name for name in body["required"] if name != "objectType"]
    parts[index] = body


def derive(spec: Mapping[str, Any], version: str) -> dict[str, Any]:
    """The JSON Schema document of one release, from its :func:`transcode`'d files: every
    component schema in ``$defs`` under its own name, plus the enumeration checks."""
    components = spec["openapi"]["components"]["schemas"]
    defs: dict[str, Any] = {
        name: convert(schema, f"components.schemas.{name}") for name, schema in components.items()
    }
    enumerations = spec["enumerations"]
    for stem, check in ENUMERATIONS.items():
        defs[check] = _grouped_values(enumerations[stem]["definitions"], stem)
    for served, request in ERRATA.items():
        _drop_request_discriminator(defs, served, request)
    defs["eventPayload"] = _checked_map("eventPayloadValues")
    defs["reportPayload"] = _checked_map("reportPayloadValues")
    defs["eventInterval"] = _interval_with(defs, "eventPayload")
    defs["reportInterval"] = _interval_with(defs, "reportPayload")
    _retarget(
        defs["eventRequest"],
        ("properties", "intervals", "items"),
        "#/$defs/eventInterval",
        "#/$defs/interval",
    )
    _retarget(
        defs["reportRequest"],
        ("properties", "resources", "items", "properties", "intervals", "items"),
        "#/$defs/reportInterval",
        "#/$defs/interval",
    )
    attributes = {
        "programRequest": "programAttributeValues",
        "BlVenRequest": "venResourceAttributeValues",
        "VenVenRequest": "venResourceAttributeValues",
        "BlResourceRequest": "venResourceAttributeValues",
        "VenResourceRequest": "venResourceAttributeValues",
    }
    for name, check in attributes.items():
        _retarget(
            defs[name],
            ("properties", "attributes", "items"),
            _checked_map(check),
            "#/$defs/valuesMap",
        )
    return {
        "$schema": DIALECT,
        "$id": f"https://drready.invalid/openadr3/{version}/openadr3.schema.json",
        "title": f"OpenADR {version}, derived from its OpenAPI document and enumerations",
        "$defs": defs,
    }


def spec_directory() -> Path:
    """Where the specification files are (in the installed package)."""
    return Path(__file__).resolve().parent / "spec"


def transcode(directory: Path) -> dict[str, Any]:
    """A release's YAML files as one JSON-able document (build time; needs PyYAML).

    Timestamps stay strings (JSON has no dates; YAML would turn ``example: 2023-06-15T09:30:00Z``
    into a datetime), so the data is the YAML's, unchanged."""
    import yaml  # type: ignore[import-untyped, unused-ignore]

    class _Loader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
        pass

    _Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def load(path: Path) -> Any:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)

    stems = sorted([*ENUMERATIONS, *OPEN_ENUMERATIONS])
    return {
        "openapi": load(directory / "openadr3.yaml"),
        "enumerations": {
            stem: load(directory / "enumerations" / f"{stem}.schema.yaml") for stem in stems
        },
    }


def write_transcoded(directory: Path) -> Path:
    """(Re)write ``directory/spec.json`` from the YAML files: the build step."""
    target = directory / "spec.json"
    text = json.dumps(transcode(directory), indent=1, sort_keys=True, ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")
    return target
