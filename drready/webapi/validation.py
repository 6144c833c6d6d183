"""JSON Schemas of the ECHONET Lite Web API documents, enforced by the client and the server.

The schema files are package data, ``drready/webapi/schemas/elwebapi.<document>.schema.json``:

============ ================================================================================
document     what
============ ================================================================================
devices      ``GET /elapi/v1/devices``: ``{devices: [{id, deviceType, protocol, manufacturer}],
             hasMore, limit, offset}``
device       ``GET /elapi/v1/devices/{id}``: the device description, ``{deviceType, eoj,
             descriptions, properties: {name: {epc, descriptions, writable, observable,
             schema}}}``; ``schema`` is the JSON Schema of that property's value
properties   ``GET /elapi/v1/devices/{id}/properties``: ``{name: value, ...}``
property     ``GET``/``PUT /elapi/v1/devices/{id}/properties/{name}``: ``{name: value}``
error        any non-2xx answer: ``{type, message}``, or RFC 6749 §5.2 ``{error, ...}`` from the
             token endpoint
token        the token endpoint's answer, RFC 6749 §5.1 ``{access_token, token_type,
             expires_in}``
============ ================================================================================

:func:`problems` lists what is wrong with a document (empty when it is valid);
:func:`value_problems` checks one property value against the schema from a device description.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any, Final

import jsonschema_rs

# The stubs (types-jsonschema) may or may not be installed; either way this line is clean.
from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft202012Validator,
    FormatChecker,
)

__all__ = [
    "DEVICE",
    "DEVICES",
    "DOCUMENTS",
    "ERROR",
    "PROPERTIES",
    "PROPERTY",
    "TOKEN",
    "SchemaViolation",
    "WebApiError",
    "load_schema",
    "problems",
    "value_problems",
]

DEVICES: Final = "devices"
DEVICE: Final = "device"
PROPERTIES: Final = "properties"
PROPERTY: Final = "property"
ERROR: Final = "error"
TOKEN: Final = "token"
DOCUMENTS: Final = (DEVICES, DEVICE, PROPERTIES, PROPERTY, ERROR, TOKEN)

#: At most this many problems are reported per document: enough to fix it, short to read.
MAX_PROBLEMS: Final = 20


class WebApiError(Exception):
    """Base of the ECHONET Lite Web API errors (client side and schema checks)."""


class SchemaViolation(WebApiError):
    """A document that breaks its schema: which document, the document itself, what is wrong.

    ``direction`` is ``"response"`` for what a peer sent us and ``"request"`` for a document we
    were about to send (refused before sending).
    """

    def __init__(
        self, document_name: str, document: Any, errors: list[str], *, direction: str = "response"
    ) -> None:
        self.document_name = document_name
        self.document = document
        self.errors = list(errors)
        self.direction = direction
        shown = "; ".join(self.errors[:3]) + (" ..." if len(self.errors) > 3 else "")
        super().__init__(f"schema violation in the {direction} {document_name} document: {shown}")


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    """The parsed schema of document ``name`` (one of :data:`DOCUMENTS`)."""
    if name not in DOCUMENTS:
        raise KeyError(f"no Web API document {name!r}; known: {', '.join(DOCUMENTS)}")
    resource = files("drready.webapi") / "schemas" / f"elwebapi.{name}.schema.json"
    schema: Mapping[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


@cache
def _validator(name: str) -> Any:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


@cache
def _compiled(name: str) -> Any:
    """The same schema compiled by jsonschema-rs: it answers "valid" in microseconds, where
    :func:`_validator` took a seventh of a Web API run. Only a document it refuses goes to
    :func:`_validator`, which decides and explains (a test holds the two equal on every one-value
    mutant of each document the reference cloud serves). The schemas use no ``format``, so the
    two have no format checks to disagree on (a test says so)."""
    return jsonschema_rs.validator_for(dict(load_schema(name)), validate_formats=False)


def _describe(errors: Any, prefix: str = "") -> list[str]:
    out = []
    for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
        path = [prefix] if prefix else []
        path += [str(part) for part in error.absolute_path]
        where = "/".join(path) or "(document)"
        out.append(f"{where}: {error.message}")
        if len(out) >= MAX_PROBLEMS:
            break
    return out


def problems(name: str, document: Any) -> list[str]:
    """What is wrong with ``document`` as a ``name`` document, one line each (empty if valid)."""
    if _compiled(name).is_valid(document):
        return []
    return _describe(_validator(name).iter_errors(document))


@lru_cache(maxsize=1024)
def _value_validator(schema_text: str) -> Any:
    return Draft202012Validator(json.loads(schema_text), format_checker=FormatChecker())


def value_problems(schema: Mapping[str, Any], value: Any, *, where: str = "") -> list[str]:
    """What is wrong with one property ``value`` against its ``schema`` (from a description)."""
    # A description's schemas repeat on every read of the device: build each validator once.
    validator = _value_validator(json.dumps(schema, sort_keys=True))
    return _describe(validator.iter_errors(value), where)
