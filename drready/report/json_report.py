"""The run report: ``report.json``, validated against the schema shipped in the package.

Written atomically (temporary file, then rename) after every test and at the end of the session, so
an interrupted run leaves a valid report marked ``complete: false`` with what it finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

REPORT_SCHEMA_VERSION = 1


@cache
def report_schema() -> dict[str, Any]:
    text = (files("drready.report") / "report.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Validator:
    # Built once: jsonschema.validate() checks the schema itself on every call, which costs more
    # than the validation (the report is rewritten after every test).
    schema = report_schema()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator: Validator = validator_class(schema)
    return validator


@cache
def _compiled() -> jsonschema_rs.Validator:
    # The same schema, compiled: it tells a valid report from an invalid one about a thousand
    # times faster (microseconds, not the ~14 ms of a gateway run's report; a run writes its
    # report after every test). Formats are annotations here, as they are for the validator above.
    return jsonschema_rs.validator_for(report_schema(), validate_formats=False)


def validate_report(document: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if the document does not follow the report schema."""
    if _compiled().is_valid(document):
        return
    # jsonschema decides, and says why in the words (and the error type) every caller expects.
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        raise error


@cache
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, sync it, then rename it over ``path``:
    a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a report is an ordinary file (0666 - umask).
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(path: Path, document: dict[str, Any], *, indent: int | None = 2) -> None:
    """Validate the run document and write it atomically. ``indent=None`` writes it on one line,
    with the json module's C encoder: a run rewrites its report after every test (nothing is
    lost if it dies), and indented, by the pure-Python encoder, those rewrites were a tenth of
    a simulated gateway run. The final report is indented, to be read."""
    validate_report(document)
    write_atomic(path, json.dumps(document, ensure_ascii=False, indent=indent) + "\n")


def load_report(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    validate_report(document)
    return document


def report_time(value: object) -> datetime | None:
    """A time stamp of a report (``started_at``, ``device_time.start``, ...) as an aware
    datetime, a stamp without an offset read as UTC; None when it is absent or not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
