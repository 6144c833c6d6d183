"""``measurements.jsonl`` and ``profile.json``: the measurement records and the report's
profile, as a third party reads them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from drready.canonical import canonical_json
from drready.evidence.redact import redact


def measurement_line(record: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "seq": record["seq"],
            "time": record["time"],
            "channel": record["channel"],
            "test": record["test"],
            "values": record["values"],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def build_measurements(records: Sequence[Mapping[str, Any]]) -> str:
    return "".join(measurement_line(r) + "\n" for r in records if r["kind"] == "measurement")


def build_profile(report: Mapping[str, Any]) -> str:
    """``profile.json``: the report's profile, credentials redacted, as canonical JSON."""
    profile = report.get("profile")
    return canonical_json(redact(profile) if isinstance(profile, Mapping) else profile)
