"""Reading a run directory for a declaration: the report, the evidence, digests; and the
small formatting helpers every part uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from drready.canonical import sha256_hex
from drready.report.declaration.model import DeclarationError
from drready.report.json_report import load_report


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, jsonschema.ValidationError):
        text = exc.message
    return text.splitlines()[0] if text else type(exc).__name__


def load_json(path: Path) -> dict[str, Any]:
    try:
        return load_report(path)
    except FileNotFoundError:
        raise DeclarationError(f"{path}: no report here (is it a drready run directory?)") from None
    except IsADirectoryError:
        raise DeclarationError(f"{path}: is a directory, expected report.json") from None
    except json.JSONDecodeError as exc:
        raise DeclarationError(f"{path}: not valid JSON: {_first_line(exc)}") from None
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise DeclarationError(
            f"{path}: not a valid drready report ({where}: {_first_line(exc)})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"{path}: cannot read it: {_first_line(exc)}") from None


def read_evidence(path: Path) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The records of an evidence log, or None and why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable: {_first_line(exc)}"
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return records, f"line {number} is not JSON"
        if not isinstance(record, dict):
            return records, f"line {number} is not a record"
        records.append(record)
    return records, None


# -- formatting ---------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes / はい" if value else "no / いいえ"
    return str(value)


def hours_text(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    return f"{seconds:,.0f} s ({seconds / 3600:.2f} h)"


def file_digest(path: Path) -> str | None:
    try:
        return sha256_hex(path.read_bytes())
    except OSError:
        return None
