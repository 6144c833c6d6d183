"""Profile validation: the JSON Schema, its validators, and jsonschema errors turned into one
human line each (:class:`ProfileError`). :mod:`drready.profile` builds on this.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from datetime import date, time
from functools import cache
from importlib.resources import files
from typing import Any

# The stubs (types-jsonschema) may or may not be installed; either way this line is clean.
from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft202012Validator,
    FormatChecker,
    ValidationError,
    validators,
)
from jsonschema.exceptions import best_match  # type: ignore[import-untyped, unused-ignore]

from drready.errors import ProfileError

# Why a bound exists, appended to range errors so the user learns the rule, not just the number.
# Keyed by (dotted key, keyword), or by the last key component for repeated tables (every
# mapping item's epc).
_BOTH_ENDS = ("minimum", "maximum")
_BOUND_REASONS = {
    ("schema_version", "const"): "the profile format this version of drready reads",
    ("timings.response_s", "maximum"): "DRready: requests executed within 30 minutes",
    ("timings.request_interval_s", "maximum"): (
        "DRready: requests accepted at intervals of 30 min or less"
    ),
    **{
        ("echonet.instance", end): "ECHONET Lite instance codes are 0x01-0x7F" for end in _BOTH_ENDS
    },
    **{("jcstar.level", end): "JC-STAR levels are ★1 to ★4" for end in _BOTH_ENDS},
    **{("epc", end): "ECHONET Lite property codes are 0x80-0xFF" for end in _BOTH_ENDS},
}
_REQUIRED_REASONS = {
    "echonet": 'required because device.topologies includes "gateway"',
    "ratings": 'required for device.class "battery"',
    "water_heater": 'required for device.class "heatpump" and "hybrid"',
}
_PATTERN_PHRASES = {
    "^0x[0-9A-Fa-f]{6}$": 'a 3-byte hex code like "0x0000FE"',
    "^[ -~]{1,12}$": "printable ASCII of 1 to 12 characters",
    "^[A-Z]$": "one capital letter A-Z",
    "^[a-z][a-z0-9_]*$": "a snake_case name",
    "^([01][0-9]|2[0-3]):[0-5][0-9]$": 'a time of day like "13:00"',
}
_TYPE_NOUNS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a table",
    "array": "an array",
}


# --- the schema and its validators --------------------------------------------------------------


@cache
def _schema() -> dict[str, Any]:
    text = (files("drready.profile") / "profile.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_strict_integer(checker: object, instance: object) -> bool:
    # TOML tells 3610 from 3610.0; JSON Schema would accept the float as an integer.
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(  # type: ignore[no-untyped-call, unused-ignore]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


@cache
def _validator(definition: str | None) -> Any:
    """Validator for the whole document (None) or for one of the schema's ``$defs``."""
    root = _schema()
    schema = (
        root if definition is None else {"$defs": root["$defs"], "$ref": f"#/$defs/{definition}"}
    )
    return _Validator(schema, format_checker=FormatChecker())


class _NotFinite:
    """Stands in for nan/inf during validation: JSON Schema bounds cannot reject them."""

    def __init__(self, value: float) -> None:
        self.text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _jsonable(value: Any, where: tuple[str | int, ...], dates: set[tuple[str | int, ...]]) -> Any:
    """TOML values to JSON ones: dates and times to ISO text (remembering where they were)."""
    if isinstance(value, dict):
        return {k: _jsonable(v, (*where, k), dates) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, (*where, i), dates) for i, v in enumerate(value)]
    if isinstance(value, date | time):  # datetime is a date
        dates.add(where)
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return _NotFinite(value)
    return value


def _nearest_root(error: ValidationError) -> int:
    # An error near the root says most about what is wrong. Among equals max() keeps the first,
    # which is schema order: additionalProperties comes before required there, so "[echonte]"
    # reads as a typo rather than as a missing [echonet]. (jsonschema's default key would also
    # rank errors of untyped subschemas such as if/then higher, which undoes that.)
    return -len(error.path)


def validate_document(
    doc: Mapping[str, Any], definition: str | None, prefix: str
) -> dict[str, Any]:
    dates: set[tuple[str | int, ...]] = set()
    instance: dict[str, Any] = _jsonable(dict(doc), (), dates)
    error = best_match(_validator(definition).iter_errors(instance), key=_nearest_root)
    if error is not None:
        raise _translate(error, prefix, dates)
    return instance


# --- turning a jsonschema error into a ProfileError ---------------------------------------------


def _dotted(prefix: str, parts: list[str | int]) -> str:
    text = prefix
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def render_value(value: Any, *, hexadecimal: bool = False, bare: bool = False) -> str:
    """A value as the user wrote it in TOML (bare: a TOML date we turned into text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and hexadecimal:
        return f"0x{value:02X}"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, _NotFinite):
        return value.text
    if isinstance(value, str):
        return value if bare else json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        text = "[" + ", ".join(render_value(v, hexadecimal=hexadecimal) for v in value) + "]"
        return text if len(text) <= 80 else text[:77] + "...]"
    return repr(value)


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _schema()["$defs"][str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


def _bounds(schema: Mapping[str, Any], hexadecimal: bool) -> str:
    def show(limit: Any) -> str:
        return render_value(limit, hexadecimal=hexadecimal)

    if "minimum" in schema and "maximum" in schema:
        return f" from {show(schema['minimum'])} to {show(schema['maximum'])}"
    parts = [
        f"{op} {show(schema[word])}"
        for word, op in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if word in schema
    ]
    return " " + " and ".join(parts) if parts else ""


def _describe(schema: Mapping[str, Any], hexadecimal: bool = False) -> str:
    """What a (sub)schema accepts, as a phrase to follow "expected"."""
    schema = _resolve(schema)
    if "enum" in schema:
        return "one of " + ", ".join(render_value(v) for v in schema["enum"])
    if "const" in schema:
        return render_value(schema["const"])
    if schema.get("format") == "date":
        return "a date like 2028-03-31"
    if "pattern" in schema:
        pattern = schema["pattern"]
        return _PATTERN_PHRASES.get(pattern, f"a string matching {pattern}")
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return _TYPE_NOUNS[kind] + _bounds(schema, hexadecimal)
    if kind == "string":
        return "a non-empty string" if schema.get("minLength") == 1 else "a string"
    if kind == "array":
        items = _resolve(schema.get("items", {}))
        of = ""
        if "enum" in items:
            of = " of " + ", ".join(render_value(v) for v in items["enum"])
        elif items:
            of = f" of {_describe(items)}"
        return ("a non-empty array" if schema.get("minItems") else "an array") + of
    return _TYPE_NOUNS.get(str(kind), "a value")


def _reason(key: str, keyword: str) -> str:
    last = key.rsplit(".", 1)[-1]
    reason = _BOUND_REASONS.get((key, keyword)) or _BOUND_REASONS.get((last, keyword))
    return f" ({reason})" if reason else ""


def _translate(
    error: ValidationError, prefix: str, dates: set[tuple[str | int, ...]]
) -> ProfileError:
    where = list(error.absolute_path)
    key = _dotted(prefix, where)
    kind = str(error.validator)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance: Any = error.instance
    limit: Any = error.validator_value
    hexadecimal = bool(where) and where[-1] == "epc"
    got = render_value(instance, hexadecimal=hexadecimal, bare=tuple(where) in dates)

    if "propertyNames" in error.relative_schema_path:
        # The offending name is the instance here, not a step of the path.
        return ProfileError(
            _dotted(key, [str(instance)]),
            _describe(schema),
            json.dumps(instance),
            problem=f"invalid key name {instance!r} (expected {_describe(schema)})",
        )
    if kind == "required":
        missing = next(name for name in limit if name not in instance)
        missing_key = _dotted(key, [missing])
        expected = _describe(schema.get("properties", {}).get(missing, {}))
        why = _REQUIRED_REASONS.get(missing_key) or f"expected {expected}"
        return ProfileError(missing_key, expected, problem=f"missing key ({why})")
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(name for name in instance if name not in allowed)
        hint = difflib.get_close_matches(unknown[0], allowed, n=1)
        did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
        names = ", ".join(repr(name) for name in unknown)
        return ProfileError(
            _dotted(key, [unknown[0]]),
            "one of " + ", ".join(allowed),
            names,
            problem=f"unknown key{'s' if len(unknown) > 1 else ''} {names} "
            f"({did_you_mean}allowed: {', '.join(allowed)})",
        )
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": "≥", "maximum": "≤", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        bound = render_value(limit, hexadecimal=hexadecimal)
        noun = _TYPE_NOUNS[str(schema.get("type", "number"))]
        return ProfileError(key, f"{noun} {op[kind]} {bound}{_reason(key, kind)}", got)
    if kind == "const":
        return ProfileError(key, _describe(schema) + _reason(key, kind), got)
    if kind in ("type", "enum", "pattern", "format", "minItems", "minLength", "maxLength"):
        return ProfileError(key, _describe(schema, hexadecimal), got)
    if kind == "uniqueItems":
        return ProfileError(key, "an array without repeated items", got)
    return ProfileError(key, "a valid value", got, problem=error.message)
