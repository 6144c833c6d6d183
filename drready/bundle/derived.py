"""``measurements.jsonl`` and ``profile.json``: the measurement records and the report's
profile, as a third party reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drready.bundle.layout import json_encoder
from drready.canonical import canonical_json
from drready.evidence.redact import redact

#: ``json.dumps(line, ensure_ascii=False, separators=(",", ":"))``.
_dumps = json_encoder((",", ":"))


def measurement_line(record: Mapping[str, Any]) -> str:
    return _dumps(
        {
            "seq": record["seq"],
            "time": record["time"],
            "channel": record["channel"],
            "test": record["test"],
            "values": record["values"],
        }
    )


def build_measurements(records: Sequence[Mapping[str, Any]]) -> str:
    return "".join(measurement_line(r) + "\n" for r in records if r["kind"] == "measurement")


def build_profile(report: Mapping[str, Any]) -> str:
    """``profile.json``: the report's profile, credentials redacted, as canonical JSON."""
    profile = report.get("profile")
    return canonical_json(redact(profile) if isinstance(profile, Mapping) else profile)
