"""The requirement table: verdicts, each test's outcome and its evidence records."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from drready.report.declaration.model import (
    EXPLAINED_OUTCOMES,
    MAX_FRAMES,
    OUTCOME_LABELS,
    VERDICT_LABELS,
    RequirementRow,
    TestRow,
)
from drready.report.plots import DeviceTime


def _records_text(evidence: Any) -> tuple[str, bool]:
    if not (isinstance(evidence, list) and len(evidence) == 2):
        return "—", False
    first, last = int(evidence[0]), int(evidence[1])
    if last <= first:
        return "記録なし / no records", False
    if last - first == 1:
        return f"record {first}", True
    return f"records {first}–{last - 1}", True


def _frame_line(frame: Mapping[str, Any], device_time: DeviceTime | None = None) -> str:
    """``#seq HH:MM:SS KIND summary``, the time on the device's clock (UTC)."""
    seq = frame.get("seq", "?")
    kind = str(frame.get("kind", "")).upper()
    when = str(frame.get("time", ""))
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(when)
        if device_time is not None:
            moment = datetime.fromtimestamp(device_time.at(moment.timestamp()), UTC)
        when = moment.strftime("%H:%M:%S")
    return f"#{seq} {when} {kind} {frame.get('summary', '')}"


def requirement_rows(
    requirements: Sequence[Mapping[str, Any]],
    evidence_href: str | None,
    device_time: DeviceTime | None = None,
) -> list[RequirementRow]:
    """The table's rows; ``device_time`` puts the quoted frames' times on the device's clock."""
    rows = []
    for requirement in requirements:
        verdict = str(requirement.get("verdict", ""))
        verdict_ja, verdict_en = VERDICT_LABELS.get(verdict, (verdict, verdict))
        tests = []
        for test in requirement.get("tests", []):
            outcome = str(test.get("outcome", ""))
            outcome_ja, outcome_en = OUTCOME_LABELS.get(outcome, (outcome, outcome))
            records, has_records = _records_text(test.get("evidence"))
            nodeid = str(test.get("nodeid", ""))
            frames = []
            if outcome in EXPLAINED_OUTCOMES:
                frames = [_frame_line(f, device_time) for f in test.get("frames", [])[-MAX_FRAMES:]]
            cause = test.get("cause")
            tests.append(
                TestRow(
                    nodeid=nodeid,
                    name=nodeid.split("::")[-1],
                    outcome=outcome,
                    outcome_ja=outcome_ja,
                    outcome_en=outcome_en,
                    message=str(test.get("message", "")),
                    records=records,
                    href=evidence_href if has_records else None,
                    frames=frames,
                    cause=str(cause) if cause else None,
                )
            )
        rows.append(
            RequirementRow(
                id=str(requirement.get("id", "")),
                title_ja=str(requirement.get("title_ja", "")),
                title_en=str(requirement.get("title_en", "")),
                verdict=verdict,
                verdict_ja=verdict_ja,
                verdict_en=verdict_en,
                reason=str(requirement.get("reason", "")),
                tests=tests,
            )
        )
    return rows
